/** Characters a POSIX shell takes literally in a word: such an argument needs no quotes. */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell word: as is when safe, else single-quoted (`'` as `'\''`). */
export function shellQuote(arg: string): string {
  return SHELL_SAFE.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/** An argv as one line a person can paste into a shell and get the same argv back. */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
