import { describe, expect, it } from 'vitest';
import { OpenFiles } from '../../../src/files/open-files.js';

describe('OpenFiles', () => {
  it('reports a directory in use while a file under it is open', () => {
    const f = new OpenFiles();
    const close = f.open('/srv/boot/images/ubuntu/amd64/generic/noble/stable/initrd');
    expect(f.inUseUnder('/srv/boot/images/ubuntu/amd64/generic/noble/stable')).toBe(true);
    expect(f.inUseUnder('/srv/boot/images/ubuntu/amd64/generic/jammy/stable')).toBe(false);
    close();
    expect(f.inUseUnder('/srv/boot/images/ubuntu/amd64/generic/noble/stable')).toBe(false);
  });

  it('counts concurrent readers of one file and ignores a double close', () => {
    const f = new OpenFiles();
    const a = f.open('/b/images/x/kernel');
    const b = f.open('/b/images/x/kernel');
    a();
    a();
    expect(f.inUseUnder('/b/images/x')).toBe(true);
    b();
    expect(f.size).toBe(0);
  });

  it('does not treat a sibling with a common prefix as inside', () => {
    const f = new OpenFiles();
    f.open('/b/images/stable2/kernel');
    expect(f.inUseUnder('/b/images/stable')).toBe(false);
  });
});
