/** blendct's version, recorded in every run manifest. */
export const VERSION = "0.1.0";
