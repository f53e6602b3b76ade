import { expect } from 'vitest';

import { ModelContractError } from '../../src/classify/classifier';

/** The one-line ModelContractError that `load` is refused with, checked to name `file` first. */
export async function refusal(load: () => Promise<unknown>, file: string): Promise<string> {
  try {
    await load();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelContractError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith(`model ${file}: `)).toBe(true);
    return msg;
  }
  throw new Error(`${file} was accepted`);
}
