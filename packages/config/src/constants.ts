/** Limits of the configuration loader, each with the reason for its value. */

/**
 * Largest configuration file read. The longest real configuration (an orchestrator trusting a few hundred builders)
 * is tens of KiB; a larger file is a mistake (the wrong path), refused before it is read into memory.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024
