# NixOS module for the narthex seeder and shim (docs/services.md).
#
#   imports = [ /path/to/narthex/nix/module.nix ];
#   services.narthex.shim = {
#     enable = true;
#     package = narthex;          # no default: see the option's description
#     configureNix = true;        # nix.settings.substituters / trusted-public-keys point at the shim
#     settings = {
#       orchestrator = "https://orchestrator.example";
#       bootstrap = [ "/dns4/orchestrator.example/tcp/4001/p2p/12D3KooW..." ];
#       orchestratorKeys = [ "narthex-1:<base64 public key>" ];
#     };
#   };
#
# Each program gets a systemd service with the same sandboxing as contrib/systemd/*.service (test/services.spec.ts
# compares them) and its settings as a JSON file in the Nix store, passed with --config. Keys are those of
# docs/examples/{seeder,shim}.jsonc; the program rejects unknown keys when it starts.
#
# Tested by evaluating it with the real nix-instantiate against a small stand-in for nixpkgs' `lib`
# (test/fixtures/nixos-eval.nix), not against real nixpkgs; it uses only lib functions that stand-in provides
# (mkOption, mkEnableOption, mkIf, mkMerge, types.*, optionals) and builtins.
{ config, lib, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge types optionals;
  cfg = config.services.narthex;

  # An ExecStart argument: quoted as a JSON string when it is not plain, % and $ doubled so systemd keeps them.
  escapeArg = arg:
    let s = builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (toString arg);
    in if builtins.match "[A-Za-z0-9_./:=@+,-]+" s != null then s else builtins.toJSON s;
  execLine = args: builtins.concatStringsSep " " (map escapeArg args);

  # The lines every narthex service shares with contrib/systemd/*.service (what each does: docs/services.md).
  # MemoryDenyWriteExecute is deliberately not set: V8's JIT writes machine code it then executes.
  sandbox = {
    Type = "exec";
    Restart = "on-failure";
    RestartSec = "5s";
    RestartPreventExitStatus = "2";
    TimeoutStopSec = "30s";
    LimitNOFILE = "8192";
    DynamicUser = "yes";
    UMask = "0077";
    ProtectSystem = "strict";
    ProtectHome = "yes";
    PrivateTmp = "yes";
    PrivateDevices = "yes";
    NoNewPrivileges = "yes";
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    ProtectKernelTunables = "yes";
    ProtectKernelModules = "yes";
    ProtectKernelLogs = "yes";
    ProtectControlGroups = "yes";
    ProtectClock = "yes";
    ProtectHostname = "yes";
    ProtectProc = "invisible";
    LockPersonality = "yes";
    RestrictNamespaces = "yes";
    RestrictRealtime = "yes";
    RestrictSUIDSGID = "yes";
    RemoveIPC = "yes";
    # AF_NETLINK: os.networkInterfaces() (getifaddrs), which libp2p calls to expand a 0.0.0.0 listen address.
    RestrictAddressFamilies = "AF_INET AF_INET6 AF_UNIX AF_NETLINK";
    SystemCallArchitectures = "native";
    # @pkey: V8 calls pkey_alloc at start (memory protection keys for its JIT code).
    SystemCallFilter = "@system-service @pkey";
    SystemCallErrorNumber = "EPERM";
  };

  # The [Unit] lines they share: give up after 5 failed starts in 2 minutes.
  unitLimits = {
    StartLimitIntervalSec = "120s";
    StartLimitBurst = "5";
  };

  # The seeder's TCP listen ports, from its listen multiaddrs (default /ip4/0.0.0.0/tcp/4001).
  seederPorts =
    let
      listen = cfg.seeder.settings.listen or [ "/ip4/0.0.0.0/tcp/4001" ];
      port = addr: let m = builtins.match ".*/tcp/([0-9]+).*" addr; in if m == null then 0 else builtins.fromJSON (builtins.head m);
    in builtins.filter (p: p != 0) (map port listen);

  # The shim's base URL for Nix, from its listen address (default 127.0.0.1:37515; ":PORT" means 127.0.0.1).
  shimListen = cfg.shim.settings.listen or "127.0.0.1:37515";
  shimUrl = "http://" + (if builtins.substring 0 1 shimListen == ":" then "127.0.0.1" + shimListen else shimListen);

  packageDescription = ''
    The narthex package (its bin/narthex runs the program). There is no default: narthex is not in nixpkgs, and
    this repository has no Nix package because building its node_modules needs the network (a fixed-output
    derivation over the pnpm lockfile would do it; none is written yet). Build one (e.g. buildNpmPackage /
    pnpm.fetchDeps) or wrap an installed copy.
  '';

  settingsOption = program: example: mkOption {
    type = types.attrsOf types.anything;
    default = { };
    inherit example;
    description = ''
      The ${program}'s configuration (docs/examples/${program}.jsonc, docs/${program}.md), written as JSON to the
      Nix store and passed with --config. Unknown keys stop the ${program} at start. "data" is replaced by
      /var/lib/narthex-${program} (--data).
    '';
  };
in
{
  options.services.narthex = {
    seeder = {
      enable = mkEnableOption "the narthex seeder (serves and announces Nix NARs to the narthex network)";
      package = mkOption { type = types.package; description = packageDescription; };
      settings = settingsOption "seeder" {
        orchestrator = "https://orchestrator.example";
        bootstrap = [ "/dns4/orchestrator.example/tcp/4001/p2p/12D3KooW..." ];
        quota = "50G";
        uploadRate = "4M";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Open the seeder's TCP listen ports (from settings.listen; default 4001) in the firewall.";
      };
      extraFlags = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Extra command-line flags for `narthex seeder` (they win over settings).";
      };
    };

    shim = {
      enable = mkEnableOption "the narthex shim (a Nix substituter on loopback fetching from the narthex network)";
      package = mkOption { type = types.package; description = packageDescription; };
      settings = settingsOption "shim" {
        orchestrator = "https://orchestrator.example";
        bootstrap = [ "/dns4/orchestrator.example/tcp/4001/p2p/12D3KooW..." ];
        orchestratorKeys = [ "narthex-1:<base64 public key>" ];
        quota = "20GiB";
      };
      configureNix = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Add the shim to nix.settings.substituters (its listen address, http://127.0.0.1:37515 by default) and
          trustedPublicKeys to nix.settings.trusted-public-keys.
        '';
      };
      trustedPublicKeys = mkOption {
        type = types.listOf types.str;
        default = cfg.shim.settings.orchestratorKeys or [ ];
        description = ''
          The orchestrator's public keys (name:base64) Nix trusts with configureNix; default settings.orchestratorKeys.
        '';
      };
      extraFlags = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Extra command-line flags for `narthex shim` (they win over settings).";
      };
    };
  };

  config = mkMerge [
    (mkIf cfg.seeder.enable {
      systemd.services.narthex-seeder = {
        description = "narthex seeder (serves Nix NARs to the narthex peer-to-peer network)";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" "nix-daemon.socket" ];
        # `seed add` of local store paths runs nix path-info / nix-store --dump through the nix-daemon.
        path = [ config.nix.package ];
        unitConfig = unitLimits;
        environment = {
          NIX_CONFIG = "extra-experimental-features = nix-command";
          XDG_CACHE_HOME = "/var/cache/narthex-seeder";
        };
        serviceConfig = sandbox // {
          ExecStart = execLine ([
            "${cfg.seeder.package}/bin/narthex" "seeder"
            "--config" (builtins.toFile "narthex-seeder.json" (builtins.toJSON cfg.seeder.settings))
            "--data" "/var/lib/narthex-seeder"
          ] ++ cfg.seeder.extraFlags);
          StateDirectory = "narthex-seeder";
          CacheDirectory = "narthex-seeder";
        };
      };
      networking.firewall.allowedTCPPorts = optionals cfg.seeder.openFirewall seederPorts;
    })

    (mkIf cfg.shim.enable {
      systemd.services.narthex-shim = {
        description = "narthex shim (local Nix substituter fetching from the narthex peer-to-peer network)";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        unitConfig = unitLimits;
        serviceConfig = sandbox // {
          ExecStart = execLine ([
            "${cfg.shim.package}/bin/narthex" "shim"
            "--config" (builtins.toFile "narthex-shim.json" (builtins.toJSON cfg.shim.settings))
            "--data" "/var/lib/narthex-shim"
          ] ++ cfg.shim.extraFlags);
          StateDirectory = "narthex-shim";
          # The shim reads nothing of the local Nix installation.
          InaccessiblePaths = "-/nix/var";
        };
      };
    })

    (mkIf (cfg.shim.enable && cfg.shim.configureNix) {
      nix.settings.substituters = [ shimUrl ];
      nix.settings.trusted-public-keys = cfg.shim.trustedPublicKeys;
      assertions = [
        {
          assertion = cfg.shim.trustedPublicKeys != [ ];
          message = "services.narthex.shim.configureNix needs the orchestrator's public key (trustedPublicKeys or settings.orchestratorKeys): Nix refuses unsigned narinfos.";
        }
      ];
    })
  ];
}
