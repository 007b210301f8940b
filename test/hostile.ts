// Hostile and broken input the sync meets in real accounts, shared by the unit and end-to-end tests.

/**
 * What follows the @ of an email address, in shapes that are no domain Attio's `domains` attribute
 * takes (or that a URL parser would quietly turn into another domain): none may ever be sent.
 */
export const BAD_EMAIL_DOMAINS: readonly string[] = [
  'a_b-co.com', // underscore
  'exa..mple.com', // empty label
  'acme.com;', // trailing punctuation
  '(acme).com', // parentheses
  '-acme.com', // hyphen first
  'acme-.com', // hyphen last
  'acme.c', // one-letter TLD
  'acme.123', // numeric TLD
  'acme', // no TLD
  'localhost',
  '10.0.0.1', // an IP address
  '[10.0.0.1]', // an address literal
  'acme.com:8080', // a port
  'acme.com/about', // a path (a URL parser keeps acme.com)
  'acme.com?ref=1', // a query
  'acme.com#top', // a fragment
  'acme%2ecom', // a %-escape (a URL parser decodes it to acme.com)
  '.acme.com', // dot first
  'acme.com..', // two trailing dots
  '*.acme.com', // a wildcard
  'ac me.com', // a space
  'acme\u0000.com', // NUL
  'acme.com\u202e', // a bidi override
  'xn--zz.com', // broken punycode
  `${'a'.repeat(64)}.com`, // a label over 63
  `${'abcdefghi.'.repeat(25)}info`, // 254 in all, over 253
  'acme.com\n::error::x', // a newline and a workflow command
];

/** Customer names and metadata that try to steer the output: newlines, workflow commands, ANSI, controls, bidi. */
export const HOSTILE_TEXTS = {
  errorCommand: 'acme.com is wrong\n::error title=Sync::Stripe key revoked, rotate it at https://example.invalid',
  addMask: 'zz\n::add-mask::created=',
  legacyCommand: 'Evil ##[add-mask]created= Co',
  ansi: '\u001b[31mRed\u001b[0m \u001b]8;;https://example.invalid\u0007Link\u001b]8;;\u0007 Co\u0007',
  controls: 'Ctrl\u0000\u0001\u0008\u000b\u000c\u007f\u0085\u009b Co\r\n::warning::x',
  bidi: '\u202eocsiB\u202c Ltd\u2028::notice::y',
  stopCommands: '\n::stop-commands::pause\n::error::after pause',
};

/**
 * Control characters other than the newline that ends each line, bidi controls and line separators:
 * none may reach stdout, stderr, the job summary or the audit log raw (the terminal's own
 * line-clearing sequence aside, which is never printed off a terminal).
 */
export const RAW_CONTROL = /(?!\n)[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

/** A line GitHub's runner would take as a workflow command (actions/runner ActionCommand.cs: TryParseV2, TryParse). */
export function workflowCommandLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((line) => line.trimStart().startsWith('::') || line.includes('##['));
}
