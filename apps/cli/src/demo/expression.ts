/**
 * The demo's derivations: a small closure of /bin/sh builds depending on each other, and one output that differs
 * on every build (the time and random bytes), which the two builders disagree on. A nonce kept in the data
 * directory makes each data directory's paths its own, so a fresh directory really builds.
 */

/** Attribute names of the closure, leaf first; `app` is its top. */
export const CLOSURE = ['greeting', 'lib', 'tool', 'app'] as const
/** The non-reproducible output. */
export const NOISY = 'noisy'

/** The Nix expression (an attribute set of derivations) for `nonce`. */
export function formatExpression(nonce: string): string {
  return `# Written by narthex demo. Offline /bin/sh derivations; "noisy" differs on every build.
let
  nonce = "${nonce}";
  drv = name: script: extra: derivation ({
    inherit name nonce;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // extra);
  greeting = drv "narthex-demo-greeting" "echo hello from narthex > $out" { };
  lib = drv "narthex-demo-lib" "mkdir -p $out/share; cp $greeting $out/share/greeting; echo 1.0 > $out/share/version" { inherit greeting; };
  tool = drv "narthex-demo-tool" "mkdir -p $out/bin; echo '#!/bin/sh' > $out/bin/demo-tool; echo \\"cat $lib/share/greeting\\" >> $out/bin/demo-tool; chmod +x $out/bin/demo-tool" { inherit lib; };
  app = drv "narthex-demo-app" "mkdir -p $out; ln -s $tool/bin/demo-tool $out/demo-tool; cp $lib/share/version $out/version" { inherit tool lib; };
  noisy = drv "narthex-demo-noisy" "date +%s%N > $out; od -An -N16 -tx1 /dev/urandom >> $out" { };
in { inherit greeting lib tool app noisy; }
`
}
