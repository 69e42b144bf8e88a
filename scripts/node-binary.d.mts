/** Types of scripts/node-binary.mjs (used by the TypeScript bench scripts). */

/** Repository root (the folder holding package.json and .cache/). */
export declare const root: string;

/** Major version of a node binary, read from `<binary> --version` (NaN when not a Node version). */
export declare function nodeMajor(nodeBinary: string): number;

/**
 * Path of a node binary of exactly the given major version (or at least it, with `atLeast`):
 * the running node when it fits, else $TENANTRY_NODE<major>, else the copy cached in
 * .cache/node<major>/, else one fetched from the npm registry into that cache.
 */
export declare function nodeBinary(major: number, options?: { atLeast?: boolean; log?: (message: string) => void }): string;
