// Programs installed into the emulated phone's /system/bin (first on the shell's PATH):
// `getprop` with the phone's properties, `pgrep`/`pkill` limited to the phone's own processes and
// `sh`. Everything else comes from the host's PATH. No benchmark runner is preinstalled: like on
// a real phone, runners are pushed (the emulated ones are in tools/).
import fs from 'node:fs';
import path from 'node:path';

/** Quotes a string for /bin/sh. */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The environment variable that marks a process as running on this phone (inherited by children). */
export const PHONE_MARKER = 'BENCHFLEET_PHONE';

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir || '.', name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

function writeScript(binDir: string, name: string, body: string): void {
  const file = path.join(binDir, name);
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
}

function getpropScript(props: Record<string, string>): string {
  const keys = Object.keys(props).sort();
  const listing = keys.map((k) => `printf '[%s]: [%s]\\n' ${shQuote(k)} ${shQuote(props[k] ?? '')}`).join('\n');
  const cases = keys.map((k) => `  ${shQuote(k)}) printf '%s\\n' ${shQuote(props[k] ?? '')} ;;`).join('\n');
  return `#!/bin/sh
# getprop of the emulated phone: all properties, or one (with an optional default).
if [ $# -eq 0 ]; then
${listing}
  exit 0
fi
case "$1" in
${cases}
  *) printf '%s\\n' "\${2-}" ;;
esac
`;
}

/** One script for both pgrep and pkill: the host's pgrep, filtered to this phone's processes. */
function procScript(realPgrep: string, phoneId: string): string {
  return `#!/bin/sh
# pgrep/pkill of the emulated phone: only processes started on this phone (marked ${PHONE_MARKER}),
# never the caller itself or its ancestors.
me=\${0##*/}
sig=TERM
if [ "$me" = pkill ]; then
  case "$1" in
    --signal) sig=$2; shift 2 ;;
    --signal=*) sig=\${1#--signal=}; shift ;;
    -[0-9]*|-[A-Z]*) sig=\${1#-}; sig=\${sig#SIG}; shift ;;
  esac
fi
skip=" $$ "
p=$$
while [ "\${p:-0}" -gt 1 ]; do
  q=
  while read -r key value; do
    if [ "$key" = PPid: ]; then q=$value; break; fi
  done 2>/dev/null < /proc/$p/status
  [ -n "$q" ] || break
  skip="$skip$q "
  p=$q
done
out=$(${shQuote(realPgrep)} "$@")
rc=$?
[ $rc -gt 1 ] && exit $rc
status=1
saved_ifs=$IFS
IFS='
'
for line in $out; do
  pid=\${line%% *}
  case "$skip" in *" $pid "*) continue ;; esac
  grep -qsz '^${PHONE_MARKER}=${phoneId}$' /proc/$pid/environ || continue
  if [ "$me" = pkill ]; then
    kill "-$sig" "$pid" 2>/dev/null && status=0
  else
    printf '%s\\n' "$line"
    status=0
  fi
done
IFS=$saved_ifs
exit $status
`;
}

export function installSystemBin(binDir: string, props: Record<string, string>, phoneId: string): void {
  fs.mkdirSync(binDir, { recursive: true });
  writeScript(binDir, 'getprop', getpropScript(props));
  const pgrep = findOnPath('pgrep');
  if (pgrep) {
    writeScript(binDir, 'pgrep', procScript(pgrep, phoneId));
    writeScript(binDir, 'pkill', procScript(pgrep, phoneId));
  }
  // No runner is preinstalled, as on a real phone: runners are pushed (see tools/install.ts). A
  // phone folder from an older benchfleet may still hold one.
  fs.rmSync(path.join(binDir, 'benchfleet-onnx-runner'), { force: true });
  const sh = path.join(binDir, 'sh');
  fs.rmSync(sh, { force: true });
  fs.symlinkSync('/bin/sh', sh);
}
