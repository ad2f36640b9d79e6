/**
 * Constants of the attestation format and the agreement policy. Each has the reason it has its value.
 */

/**
 * First line of every signed attestation encoding. Domain separation: a signature over these bytes can never be
 * mistaken for a narinfo signature (whose fingerprint starts with `1;`) or for any other message signed with the
 * same Nix key, and the `v1` lets a later format coexist with this one.
 */
export const ATTESTATION_DOMAIN = 'narthex-attestation-v1'

/** The only attestation format version this code produces and accepts (the `v` field of the JSON form). */
export const ATTESTATION_VERSION = 1

/**
 * Default quorum k: two independent builders must agree. One builder alone is a single point of trust (the
 * thing narthex exists to avoid); more than two makes every output wait for more builds. Operators raise it.
 */
export const DEFAULT_QUORUM = 2

/**
 * Default handling of a dissenting attestation that arrives after an output was agreed: `keep` the agreement
 * (and flag it as contested). Nix clients may have cached the signed narinfo for 30 days already, so withdrawing
 * it protects only new clients; `withdraw` is there for operators who prefer that.
 */
export const DEFAULT_AFTER_AGREEMENT = 'keep'

/**
 * Builder key names: what Nix allows in practice (`cache.nixos.org-1`, `builder@host`), minus whitespace and `:`
 * (the separator of `name:base64`), so a name is always one token in the line-based encoding.
 */
export const BUILDER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}$/

/**
 * Output names (`out`, `dev`, `lib`...): Nix allows the store-path name characters; 64 is far above any real
 * output name and bounds the encoding.
 */
export const OUTPUT_NAME_PATTERN = /^[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]{0,63}$/

/**
 * Maximum number of references in one attestation. The largest closures in nixpkgs have a few hundred direct
 * references per path; 10,000 is generous and bounds the memory and CPU one attestation can cost.
 */
export const MAX_REFERENCES = 10_000

/**
 * Largest NarSize accepted: 2^53 - 1, the largest integer a JSON number holds exactly. Real NARs are far smaller.
 */
export const MAX_NAR_SIZE = Number.MAX_SAFE_INTEGER

/** Multicodec of the manifest root CID: dag-cbor (the manifest is deterministic DAG-CBOR, see @narthex/content). */
export const MANIFEST_ROOT_CODEC = 0x71

/** Multihash function of the manifest root CID: sha2-256. */
export const MANIFEST_ROOT_HASH = 0x12
