import type { BootPlan, BootRule } from './boot-plan.js';
import type { GenerateOptions } from './gen-dnsmasq.js';

/** One `option-data` entry (Kea ARM, "Standard DHCPv4 Options"). */
export interface KeaOptionData {
  name: string;
  data: string;
  'always-send'?: boolean;
}

/** One entry of `client-classes` (Kea ARM, "Client Classification"; tests use Kea's expression language). */
export interface KeaClientClass {
  name: string;
  test: string;
  'next-server': string;
  'boot-file-name': string;
  'option-data'?: KeaOptionData[];
}

/** One entry of `hooks-libraries` for libdhcp_run_script.so (Kea ARM, "Run Script Support"). */
export interface KeaHookLibrary {
  library: string;
  parameters: { name: string; sync: boolean };
}

/** The Dhcp4 keys edgeboot contributes; merge them into the site's Dhcp4 map. */
export interface KeaFragment {
  Dhcp4: {
    'client-classes': KeaClientClass[];
    'hooks-libraries'?: KeaHookLibrary[];
  };
}

/** Where Debian's kea packages install the run_script hook on x86-64. */
export const KEA_RUN_SCRIPT_LIB = '/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so';

/** The class name a rule gets. */
export function keaClassName(rule: BootRule): string {
  return `edgeboot-${rule.name}`;
}

function keaTest(rule: BootRule, ipxeClass: string): string {
  // iPXE sends option 77 as the bare string "iPXE", not RFC 3004 framed, so compare the raw bytes.
  if (rule.match.kind === 'ipxe') return "option[77].hex == 'iPXE' or option[175].exists";
  const arches = rule.match.arches.map((a) => `option[93].hex == 0x${a.toString(16).padStart(4, '0')}`).join(' or ');
  // A URL goes to UEFI HTTP Boot firmware only (option 60 "HTTPClient…"): installers read "://" as a preseed URL.
  const http = rule.httpClient ? " and substring(option[60].hex, 0, 10) == 'HTTPClient'" : '';
  return `not member('${ipxeClass}') and (${arches})${http}`;
}

/** Build the typed Kea fragment for a plan: one client class per rule, and the run_script hook when wired. */
export function keaFragment(plan: BootPlan, o: GenerateOptions & { runScriptLib?: string } = {}): KeaFragment {
  const ipxe = plan.rules.find((r) => r.match.kind === 'ipxe');
  const ipxeClass = ipxe ? keaClassName(ipxe) : 'edgeboot-ipxe';
  const classes: KeaClientClass[] = plan.rules.map((r) => {
    const c: KeaClientClass = {
      name: keaClassName(r),
      test: keaTest(r, ipxeClass),
      'next-server': plan.serverAddress,
      'boot-file-name': r.filename,
    };
    // UEFI 2.5 §24.7.2.1; always-send because HTTP boot firmware does not list option 60 in option 55.
    if (r.httpClient) c['option-data'] = [{ name: 'vendor-class-identifier', data: 'HTTPClient', 'always-send': true }];
    return c;
  });
  const fragment: KeaFragment = { Dhcp4: { 'client-classes': classes } };
  if (o.hookPath) {
    fragment.Dhcp4['hooks-libraries'] = [{ library: o.runScriptLib ?? KEA_RUN_SCRIPT_LIB, parameters: { name: o.hookPath, sync: false } }];
  }
  return fragment;
}

/** The fragment as Kea configuration text: `//` comments (which Kea accepts) above pretty JSON. */
export function generateKea(plan: BootPlan, o: GenerateOptions & { runScriptLib?: string } = {}): string {
  const comments = [...(o.header ?? []), ...plan.notes, 'Merge the Dhcp4 keys below into your kea-dhcp4.conf.'].map((l) => `// ${l}`);
  return `${comments.join('\n')}\n${JSON.stringify(keaFragment(plan, o), null, 2)}\n`;
}
