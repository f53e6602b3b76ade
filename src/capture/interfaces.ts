import { CaptureError } from './captureError';
import { ADDON_FIX, InterfaceInfo, liveBinding } from './liveBinding';

/** The devices live capture can open, as the addon (libpcap) lists them. */
export function interfaceList(): InterfaceInfo[] {
  const addon = liveBinding();
  if (!(addon instanceof Error)) return addon.listInterfaces();
  throw new CaptureError(`Cannot list interfaces: the capture addon is not available: ${ADDON_FIX}`);
}

function state(i: InterfaceInfo): string {
  if (i.up === null) return '?';
  if (!i.up) return 'down';
  return i.running === false ? 'no-carrier' : 'up';
}

/** `sensor interfaces`: one line per device, name first, for `sensor --interface NAME`. */
export function formatInterfaces(list: readonly InterfaceInfo[]): string {
  const rows = list.map((i) => [i.name, state(i), i.addresses.join(', ') || '-', i.loopback ? 'loopback' : i.description]);
  const all = [['NAME', 'STATE', 'ADDRESSES', 'DESCRIPTION'], ...rows];
  const width = [0, 1, 2].map((c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => (c < 3 ? cell.padEnd(width[c]!) : cell)).join('  ').trimEnd()).join('\n');
}

/** The text `sensor interfaces` prints. */
export function listInterfaces(): string {
  return formatInterfaces(interfaceList());
}
