/** Node i of a fleet bench, in the wire shape (inventory files, snapshots and `PUT /api/v1/admin/nodes`). */
export function fleetNode(i: number, status = 'deployed'): Record<string, unknown> {
  const h = i.toString(16).padStart(6, '0');
  return {
    system_id: `n${h}`,
    hostname: `node-${h}`,
    macs: [`52:54:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:01`],
    arch: 'amd64/generic',
    status,
    osystem: 'ubuntu',
    release: 'noble',
    kernel_opts: 'console=ttyS0',
    token: { consumer_key: `ck${h}`, token_key: `tk${h}abcdefgh`, token_secret: `ts${h}abcdefghijklmnop` },
  };
}
