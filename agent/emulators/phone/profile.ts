// Who the emulated phone says it is: system properties (what `getprop` prints) and the CNXN
// banner adbd sends, `device::ro.product.name=…;ro.product.model=…;ro.product.device=…;features=…`.

/** Features a current adbd advertises that change how the 29.0.6 host talks to it. */
export const DEFAULT_FEATURES = ['shell_v2', 'cmd', 'stat_v2', 'ls_v2', 'fixed_push_mkdir'];

/** A Pixel 8 (Tensor G3, 8 GB) running Android 14. */
export const DEFAULT_PROPS: Readonly<Record<string, string>> = {
  'ro.product.manufacturer': 'Google',
  'ro.product.brand': 'google',
  'ro.product.model': 'Pixel 8',
  'ro.product.name': 'shiba',
  'ro.product.device': 'shiba',
  'ro.product.board': 'shiba',
  'ro.soc.manufacturer': 'Google',
  'ro.soc.model': 'Tensor G3',
  'ro.board.platform': 'zuma',
  'ro.hardware': 'shiba',
  'ro.product.cpu.abi': 'arm64-v8a',
  'ro.product.cpu.abilist': 'arm64-v8a,armeabi-v7a,armeabi',
  'ro.build.version.release': '14',
  'ro.build.version.sdk': '34',
  'ro.build.type': 'user',
  'ro.build.fingerprint': 'google/shiba/shiba:14/AP2A.240805.005/12025142:user/release-keys',
  'ro.debuggable': '0',
  'ro.secure': '1',
  'sys.boot_completed': '1',
};

export function phoneProps(overrides: Record<string, string> | undefined, serial: string): Record<string, string> {
  const props: Record<string, string> = { ...DEFAULT_PROPS, 'ro.serialno': serial, ...(overrides ?? {}) };
  for (const [key, value] of Object.entries(props)) {
    if (/[\n\r\0]/.test(key + value)) throw new Error(`property ${key} must be a single line`);
  }
  return props;
}

/** The CNXN payload. The host turns non-alphanumerics of each value into `_` for `devices -l`. */
export function connectionBanner(props: Record<string, string>, features: string[]): string {
  const field = (value: string | undefined) => (value ?? '').replace(/[;=]/g, '_');
  const banner = `device::ro.product.name=${field(props['ro.product.name'])};ro.product.model=${field(props['ro.product.model'])};`
    + `ro.product.device=${field(props['ro.product.device'])};features=${features.join(',')}`;
  if (Buffer.byteLength(banner) > 4096) throw new Error('the CNXN banner must fit in 4096 bytes');
  return banner;
}
