/**
 * A shell line that sets the shell's own timer slack (how long the kernel may defer its timed
 * sleeps) to `slackNs`, or says on stderr that it could not and goes on. Any process may set
 * its own without privilege; `exec` and every thread and child the shell starts inherit it.
 * The line runs in the shell itself (a builtin in braces), not a child, so `/proc/self` is
 * the shell. `slackNs` and `what` are shell words: a literal or a parameter such as "$0".
 */
export function setOwnTimerSlack(slackNs: string, what: string): string {
  return `{ echo "${slackNs}" > /proc/self/timerslack_ns; } 2>/dev/null || echo "cannot set a timer slack of ${slackNs} ns for ${what}; it runs with the kernel's default" >&2`;
}
