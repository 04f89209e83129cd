import { type Boot6Rule, type BootPlan6, classPrefix, EDK2_ENTERPRISE } from './boot-plan6.js';
import { vendorClassData } from './dhcp6-packet.js';
import type { Generate6Options } from './gen-dnsmasq6.js';

/** One Dhcp6 `option-data` entry (Kea ARM, "Standard DHCPv6 Options"). */
export interface Kea6OptionData {
  name: string;
  data: string;
  'always-send'?: boolean;
  'csv-format'?: boolean;
}

/** One Dhcp6 client class (Kea ARM, "Client Classification"). */
export interface Kea6ClientClass {
  name: string;
  test: string;
  'option-data': Kea6OptionData[];
}

/** The Dhcp6 keys edgeboot contributes; merge them into the site's Dhcp6 map. */
export interface Kea6Fragment {
  Dhcp6: { 'client-classes': Kea6ClientClass[] };
}

// Kea's expression language: option[16].hex is the whole option (enterprise number, length, data), so the
// class string starts at byte 6; option[15] (user class) likewise starts with a 2-byte length.
function test6(r: Boot6Rule): string {
  if (r.match.kind === 'ipxe') return "substring(option[15].hex, 2, 4) == 'iPXE'";
  const prefix = classPrefix(r.match);
  return `not member('edgeboot6-ipxe') and substring(option[16].hex, 0, 4) == 0x${EDK2_ENTERPRISE.toString(16).padStart(8, '0')} and substring(option[16].hex, 6, ${prefix.length}) == '${prefix}'`;
}

/** The typed Kea fragment for a DHCPv6 plan: one client class per rule. */
export function kea6Fragment(plan: BootPlan6): Kea6Fragment {
  return {
    Dhcp6: {
      'client-classes': plan.rules.map((r) => {
        const options: Kea6OptionData[] = [{ name: 'bootfile-url', data: r.url, 'always-send': true }];
        // Kea writes vendor-class as enterprise number + one length-prefixed string (RFC 8415 §21.16): the form
        // EDK2's HTTP Boot checks ("HTTPClient" at byte 6). Given as raw hex (csv-format false): Kea's text form
        // for this option takes the class as binary anyway. PXEv6 gets NO option 16: with enterprise 343 and
        // "PXEClient" EDK2's UefiPxeBcDxe files the Advertise as a "binl" offer and asks a PXE boot server on
        // UDP 4011 for the boot file (PxeBcRetryDhcp6Binl), ignoring option 59 — nobody answers, PXE-E16. A plain
        // ("DHCP only") offer boots from option 59 (seen in test/e2e/ipv6-pxe.test.ts).
        if (r.match.kind === 'class' && r.match.vendor === 'HTTPClient') options.push({ name: 'vendor-class', data: vendorClassData(EDK2_ENTERPRISE, [r.match.vendor]).toString('hex'), 'csv-format': false, 'always-send': true });
        return { name: r.match.kind === 'ipxe' ? 'edgeboot6-ipxe' : `edgeboot6-${r.name}`, test: test6(r), 'option-data': options };
      }),
    },
  };
}

/** The fragment as Kea configuration text: `//` comments above pretty JSON. */
export function generateKea6(plan: BootPlan6, o: Generate6Options = {}): string {
  const comments = [
    ...(o.header ?? []),
    ...plan.notes,
    'Merge the Dhcp6 keys below into your kea-dhcp6.conf. Kea sends no router advertisements: the router (or radvd) must',
    'announce the prefix with the M flag, so firmware asks for a stateful address (EDK2 HTTP Boot needs one).',
  ].map((l) => `// ${l}`);
  return `${comments.join('\n')}\n${JSON.stringify(kea6Fragment(plan), null, 2)}\n`;
}
