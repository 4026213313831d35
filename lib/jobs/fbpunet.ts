/**
 * FBP-UNet (FBPConvNet style): a residual 2D UNet applied slice by slice to blendct's ramp-filter FBP,
 * one network per acquisition setting (`train/fbpunet.py`). The networks live in `models/` as ONNX with a
 * JSON card each; they run on onnxruntime-node's CPU back end.
 * @module
 */
import { importOrtNode } from "../deps.ts";
import { UserError } from "../errors.ts";
import type { AcquisitionOptions } from "../ct/measure.ts";
import type { Geometry } from "../ct/geometry.ts";

/** The acquisition settings FBP-UNet networks are trained for: views over 180°, or `la90` (90 views in 90°). */
export const FBPUNET_SETTINGS = ["4", "6", "8", "la90"] as const;

/**
 * The acquisition a setting name stands for.
 *
 * @example
 * ```ts
 * import { parseFbpunetSetting } from "./fbpunet.ts";
 * console.log(parseFbpunetSetting("la90")); // { views: 90, angleRange: 90 }
 * ```
 */
export function parseFbpunetSetting(name: string): AcquisitionOptions {
  if (name === "la90") return { views: 90, angleRange: 90 };
  const v = Number(name);
  if (!Number.isInteger(v) || v < 1) {
    throw new UserError(`unknown FBP-UNet setting ${name}: use 4, 6, 8 or la90`);
  }
  return { views: v };
}

/**
 * The setting a parallel-beam geometry matches (views evenly over 180°, or 90 views over 90°), or null.
 *
 * @example
 * ```ts
 * import { sparseView } from "../ct/geometry.ts";
 * import { settingOf } from "./fbpunet.ts";
 * console.log(settingOf(sparseView(8, { imageSize: 16 }))); // 8
 * ```
 */
export function settingOf(g: Geometry): string | null {
  if (g.type !== "parallel") return null;
  const n = g.angles.length, step = n > 1 ? g.angles[1] - g.angles[0] : Math.PI;
  const span = step * n;
  if (Math.abs(span - Math.PI) < 1e-4) return String(n);
  if (n === 90 && Math.abs(span - Math.PI / 2) < 1e-4) return "la90";
  return null;
}

/** An FBP-UNet card (`models/fbpunet-SETTING.json`). */
export interface FbpunetCard {
  /** The acquisition setting it was trained for. */
  setting: string;
  /** The ONNX file next to the card. */
  onnx: string;
  /** Slice size it was trained on. */
  imageSize: number;
  /** Minutes of CPU training. */
  minutes: number;
}

/** Where the shipped FBP-UNet networks live. */
export const FBPUNET_DIR: URL = new URL("../../models/", import.meta.url);

/** The settings for which a network ships (cards found in `dir`). */
export async function availableFbpunet(dir: URL = FBPUNET_DIR): Promise<string[]> {
  const found: string[] = [];
  for (const s of FBPUNET_SETTINGS) {
    try {
      await Deno.stat(new URL(`fbpunet-${s}.json`, dir));
      found.push(s);
    } catch {
      // not trained for this setting
    }
  }
  return found;
}

/**
 * Applies the setting's network to an FBP volume `[Z][H][W]` in u, slice by slice; returns the corrected
 * volume in u. Throws a one-line {@linkcode UserError} naming the trained settings when there is none.
 */
export async function applyFbpunet(
  fbp: Float32Array,
  shape: { Z: number; H: number; W: number },
  geometry: Geometry,
  dir: URL = FBPUNET_DIR,
): Promise<Float32Array> {
  const setting = settingOf(geometry);
  const have = await availableFbpunet(dir);
  if (setting === null || !have.includes(setting)) {
    throw new UserError(
      `--method fbpunet has networks for ${
        have.join(", ") || "no setting"
      } (views over 180°, la90 = 90 views in 90°); this acquisition is ${
        setting ?? "another geometry"
      }: pick one of those or another method`,
    );
  }
  const card = JSON.parse(await Deno.readTextFile(new URL(`fbpunet-${setting}.json`, dir))) as FbpunetCard;
  const { Z, H, W } = shape;
  if (card.imageSize !== H || card.imageSize !== W) {
    throw new UserError(
      `the FBP-UNet for ${setting} works on ${card.imageSize}² slices, not ${H}x${W}: pass --resample`,
    );
  }
  const ort = await importOrtNode();
  const session = await ort.InferenceSession.create(new URL(card.onnx, dir).pathname);
  try {
    const out = new Float32Array(fbp.length), batch = 4, hw = H * W;
    for (let z = 0; z < Z; z += batch) {
      const B = Math.min(batch, Z - z);
      const input = new ort.Tensor("float32", fbp.slice(z * hw, (z + B) * hw), [B, 1, H, W]);
      const res = await session.run({ fbp: input });
      out.set(res.x.data as Float32Array, z * hw);
    }
    return out;
  } finally {
    await session.release();
  }
}
