/** Every kind of text edgeboot renders; each has its own template folder and escaping rules. */
export const KINDS = ['ipxe', 'pxelinux', 'grub', 'preseed', 'user-data', 'meta-data'] as const;

/** A kind of rendered output. */
export type Kind = (typeof KINDS)[number];

/** Boot purposes, per the state table in ARCHITECTURE.md. */
export const PURPOSES = ['enlist', 'wait', 'commission', 'install', 'local', 'rescue', 'error', 'region-wait'] as const;

/** What a node's boot is for. */
export type Purpose = (typeof PURPOSES)[number];

/** True when `s` names a render kind. */
export function isKind(s: string): s is Kind {
  return (KINDS as readonly string[]).includes(s);
}

/** The MIME type each kind is served with. */
export const CONTENT_TYPES: Record<Kind, string> = {
  ipxe: 'text/plain; charset=utf-8',
  pxelinux: 'text/plain; charset=utf-8',
  grub: 'text/plain; charset=utf-8',
  preseed: 'text/plain; charset=utf-8',
  'user-data': 'text/cloud-config; charset=utf-8',
  'meta-data': 'text/yaml; charset=utf-8',
};
