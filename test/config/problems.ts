import { ConfigError, parseConfig } from '../../src/config/load.js';

/** The lines of the refusal for a config loaded as lanboot.yaml; throws if it is accepted. */
export function problems(text: string): string[] {
  try {
    parseConfig(text, 'lanboot.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error('config was accepted');
}
