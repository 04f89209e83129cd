import type { Node } from '../../core/node.js';
import { nodeToWire, sealNode, SnapshotChecker, type WireNode } from '../../contract/index.js';

/** A node checked as a rack would check it: its normalised form and its canonical wire form. */
export interface CheckedNode {
  node: Node;
  wire: WireNode;
}

/**
 * Validate whole nodes with the rack's snapshot checker (duplicate MACs, UUIDs and system ids within the
 * batch included); throws E_SNAPSHOT naming every problem with its path, so a bad batch changes nothing.
 */
export function checkNodes(raws: unknown[], where: string): CheckedNode[] {
  const checker = new SnapshotChecker(where);
  const out: CheckedNode[] = [];
  raws.forEach((raw, i) => {
    const plain = checker.node(raw, i);
    if (plain) {
      const node = sealNode(plain);
      out.push({ node, wire: nodeToWire(node) });
    }
  });
  checker.finish({});
  return out;
}

/** The normalised node of a wire node the store wrote itself (already checked once). */
export function nodeOfWire(wire: unknown): Node {
  return checkNodes([wire], 'stored node')[0]!.node;
}

/** A wire node without its token, as the admin API lists nodes. */
export function withoutToken(w: WireNode): Omit<WireNode, 'token'> {
  const { token: _token, ...rest } = w;
  return rest;
}
