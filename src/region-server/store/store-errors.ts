import { EdgebootError } from '../../core/errors.js';

/** The store cannot answer right now (its database is down); the HTTP side answers 503 with Retry-After. */
export class StoreUnavailable extends EdgebootError {
  constructor(sentence: string, options?: { cause?: unknown }) {
    super('E_REGION', sentence, options);
    this.name = 'StoreUnavailable';
  }
}
