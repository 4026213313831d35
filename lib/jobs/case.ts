/**
 * One case loader for `reconstruct` and `evaluate`: read a volume (or a measured sinogram), crop slices,
 * decide its unit, resample to the model's slice size, convert to blendct's attenuation unit u and simulate
 * the measurement. Everything downstream works in u; outputs go back to the case's own unit.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Geometry } from "../ct/geometry.ts";
import { measure } from "../ct/measure.ts";
import { checkGeometry, type CtProjector } from "../ct/system.ts";
import type { SliceShape } from "../ct/operator.ts";
import { type AnyCone, isCone, toConeVec, withAngles } from "../ct/cone_geometry.ts";
import { defaultConeGrid } from "../ct/cone_plan.ts";
import { binVectors, type Correction, readProjectionSet, WALNUT } from "../io/projections.ts";
import { readGeometryFile } from "../io/geometry_file.ts";
import { readVolumeFile } from "../io/files.ts";
import { lineIntegralScale, readSinogram } from "../io/sinogram.ts";
import { cropSlices, DEFAULT_CASE, resampleSlices } from "../cases.ts";
import { DEFAULT_MU_WATER, fromU, toU, type Unit, type UnitMap } from "../units.ts";
import { makeVolume, type Volume } from "../volume.ts";
import { UserError } from "../errors.ts";

/** What a case needs from flags. */
export interface CaseSpec {
  /** Volume path or `sample:NAME`. Default: the bundled default case. */
  input?: string;
  /** Slice range `A:B`. Default: all (the default case: its 36 slices). */
  slices?: string;
  /** The unit of the input, overriding its header or the inference. */
  unit?: Unit;
  /** μ of water in 1/mm. Default {@linkcode DEFAULT_MU_WATER}. */
  muWater?: number;
  /** Views to simulate. Default 8. */
  views?: number;
  /** Limited angle in degrees. */
  angleRange?: number;
  /** Incident photons per ray (Poisson noise on the physical line integrals). */
  noise?: number;
  /** Noise seed. Default 0. */
  seed?: number;
  /** Resample slices to this size (the model's), when they differ. */
  imageSize?: number | null;
  /** Allow that resampling; else a one-line error. Default false. */
  resample?: boolean;
  /** A measured sinogram of physical line integrals instead of simulating. */
  sinogram?: string;
  /**
   * A geometry file (blendct's, a sidecar, or ASTRA's dictionaries): with `sinogram` the geometry it was
   * measured with (default: its sidecar), with `input` the geometry to simulate instead of `views`.
   */
  geometry?: string;
  /** Ground truth for metrics when reconstructing a sinogram. */
  reference?: string;
  /** Raw cone-beam projections (a TIFF folder, the walnut layout, or a multi-page TIFF) instead of simulating. */
  projections?: string;
  /** `projections`: flat-field TIFFs (averaged). */
  flat?: string[];
  /** `projections`: dark-field TIFFs (averaged). */
  dark?: string[];
  /** `projections`: keep every n-th view. Default 1. */
  every?: number;
  /** `projections`: bin detector pixels n × n. Default 1. */
  bin?: number;
  /** `projections`: the volume grid `[Z, H, W]` when the geometry states none. */
  grid?: [number, number, number];
  /** `projections`: the voxel size `[dz, dxy]` in mm when the geometry states none. */
  voxelSize?: [number, number];
}

/** A loaded case: measurements of u, its geometry, and the ground truth when there is one. */
export interface Case {
  /** `y = A u`, `[Z][views][bins]` (cone beam: `[rows][views][columns]`), line integrals in pixel lengths. */
  y: Float32Array;
  /** The acquisition geometry. */
  geometry: Geometry;
  /** `[Z, H, W]`. */
  shape: [number, number, number];
  /** `[dz, dy, dx]` in mm. */
  spacing: [number, number, number];
  /** Voxel-to-world matrix of the output. */
  affine: number[][];
  /** The case's unit and how it maps to u. */
  units: UnitMap;
  /** Ground truth in u, or null. */
  truthU: Float32Array | null;
  /** Input paths (never overwritten). */
  inputs: string[];
  /** A label for tables and manifests. */
  label: string;
  /** One-line notices worth printing (unit guesses, resampling). */
  notices: string[];
  /** Raw projections: what flat- and dark-field correction did (for the manifest). */
  measurement?: Correction;
}

/** Options for {@linkcode loadCase}. */
export interface LoadCaseOptions {
  /**
   * A simulated case measures with the operator this builds, which the caller keeps for the
   * reconstruction (`openProblem`). Default: measure with a projector of its own.
   */
  openOperator?: (geometry: Geometry, shape: SliceShape) => Promise<CtProjector>;
}

function unitsOf(volume: Volume, muWater: number): UnitMap {
  return { unit: volume.unit ?? "image", muWater, imageHu: volume.imageHu };
}

/**
 * Loads a case as {@linkcode CaseSpec} says.
 *
 * @example
 * ```ts ignore
 * const c = await loadCase(gpu, { input: "ct.nii.gz", views: 8 });
 * ```
 */
export async function loadCase(
  gpu: GpuContext,
  spec: CaseSpec,
  options: LoadCaseOptions = {},
): Promise<Case> {
  const muWater = spec.muWater ?? DEFAULT_MU_WATER;
  if (!(muWater > 0) || !Number.isFinite(muWater)) {
    throw new UserError(`--mu-water must be a positive number in 1/mm (got ${muWater})`);
  }
  if (spec.projections) return await loadProjectionsCase(spec, muWater);
  return spec.sinogram ? await loadSinogramCase(spec) : await loadVolumeCase(gpu, spec, muWater, options);
}

async function loadProjectionsCase(spec: CaseSpec, muWater: number): Promise<Case> {
  const every = spec.every ?? 1, bin = spec.bin ?? 1;
  const set = await readProjectionSet({
    path: spec.projections!,
    flat: spec.flat,
    dark: spec.dark,
    every,
    bin,
  });
  const { rows: V, cols: U, views: A } = set.correction;
  let g: AnyCone;
  let grid: [number, number, number] | undefined;
  const notices: string[] = [];
  if (spec.geometry) {
    const file = await readGeometryFile(spec.geometry);
    if (!isCone(file.geometry)) {
      throw new UserError(
        `--projections needs a cone geometry; ${spec.geometry} is ${file.geometry.type} (2D data go in with --sinogram)`,
      );
    }
    const vec = toConeVec(file.geometry);
    // --every and --bin act on the file's geometry as they acted on the images
    const rows = binVectors(
      vec.vectors.filter((_, i) => i % every === 0),
      vec.detectorCount,
      vec.detectorRows,
      bin,
    );
    g = withAngles(rows, Math.floor(vec.detectorRows / bin), Math.floor(vec.detectorCount / bin), vec);
    if (file.grid && file.slices) grid = [file.slices, ...file.grid];
  } else if (set.vectors) {
    g = withAngles(set.vectors, V, U);
    notices.push(`${spec.projections}: the walnut layout, ${A} views, geometry from its ${WALNUT.geometry}`);
  } else {
    throw new UserError(
      "--projections needs --geometry (cone or cone_vec JSON, ASTRA's dictionaries or TIGRE's geometry)",
    );
  }
  if (g.angles.length !== A || g.detectorRows !== V || g.detectorCount !== U) {
    throw new UserError(
      `${spec.projections} holds ${A} views of ${V}x${U} (rows x columns) but the geometry describes ${g.angles.length} views of ${g.detectorRows}x${g.detectorCount}: use the matching --geometry (or the same --every and --bin)`,
    );
  }
  const size = spec.imageSize ?? 256;
  const fallback = defaultConeGrid(g, size);
  const shape = spec.grid ?? grid ?? fallback.shape;
  const spacing: [number, number, number] = spec.voxelSize
    ? [spec.voxelSize[0], spec.voxelSize[1], spec.voxelSize[1]]
    : g.voxelSize ?? fallback.spacing;
  if (!spec.grid && !grid) {
    notices.push(
      `note: no volume grid given: ${shape.join("x")} voxels of ${
        spacing[2].toFixed(3)
      } mm over the field every view sees (--grid Z,H,W and --voxel-size DZ,DXY to choose)`,
    );
  }
  const geometry: AnyCone = { ...g, voxelSize: spacing };
  const [Z, H, W] = shape;
  if (spec.imageSize && (H !== spec.imageSize || W !== spec.imageSize)) {
    throw new UserError(
      `the model works on ${spec.imageSize}x${spec.imageSize} slices but --grid asks for ${H}x${W}: use --grid Z,${spec.imageSize},${spec.imageSize} (and a --voxel-size to match)`,
    );
  }
  const warn = checkGeometry(geometry, { Z, H, W }, spacing[2], spacing);
  if (warn) notices.push(warn);
  const k = muWater * spacing[2];
  const c = set.correction;
  notices.push(
    `${spec.projections}: ${c.views} views of ${c.rows}x${c.cols}, flat ${c.flatFrames} and dark ${c.darkFrames} frames averaged; ${c.clampedLow} pixels at or below the dark field clamped, ${c.aboveFlat} above the flat field kept`,
  );
  let truthU: Float32Array | null = null;
  const units: UnitMap = { unit: spec.unit ?? "HU", muWater };
  if (spec.reference) {
    const ref = await readVolumeFile(spec.reference, { unit: spec.unit });
    if (ref.shape.join() !== shape.join()) {
      throw new UserError(
        `--reference is ${ref.shape.join("x")} but the reconstruction grid is ${shape.join("x")}`,
      );
    }
    truthU = toU(ref.data, unitsOf(ref, muWater));
  }
  return {
    y: set.y.map((v) => v / k),
    geometry,
    shape,
    spacing,
    affine: makeVolume(new Float32Array(Z * H * W), shape, { spacing }).affine,
    units,
    truthU,
    inputs: [spec.projections!, ...set.files, ...(spec.reference ? [spec.reference] : [])],
    label: spec.projections!,
    notices,
    measurement: set.correction,
  };
}

async function loadSinogramCase(spec: CaseSpec): Promise<Case> {
  const { y, meta } = await readSinogram(spec.sinogram!, spec.geometry);
  const [Z, H, W] = meta.imageShape;
  if (spec.imageSize && (H !== spec.imageSize || W !== spec.imageSize)) {
    throw new UserError(
      `the model works on ${spec.imageSize}x${spec.imageSize} slices but the sinogram's image is ${H}x${W}; a measured sinogram cannot be resampled: use a matching model`,
    );
  }
  const units: UnitMap = { unit: spec.unit ?? meta.unit, muWater: meta.muWater, imageHu: meta.imageHu };
  let truthU: Float32Array | null = null;
  if (spec.reference) {
    const ref = await readVolumeFile(spec.reference, { unit: spec.unit });
    if (ref.shape.join() !== meta.imageShape.join()) {
      throw new UserError(
        `--reference is ${ref.shape.join("x")} but the sinogram's image is ${meta.imageShape.join("x")}`,
      );
    }
    truthU = toU(ref.data, unitsOf(ref, meta.muWater));
  }
  const sp = meta.spacing;
  const geometry = withPixelSize(meta.geometry, sp[2], sp);
  const notices: string[] = [];
  const warn = checkGeometry(geometry, { Z, H, W }, sp[2], sp);
  if (warn) notices.push(warn);
  return {
    y,
    geometry,
    shape: [Z, H, W],
    spacing: sp,
    affine: meta.affine ?? makeVolume(new Float32Array(Z * H * W), [Z, H, W], { spacing: sp }).affine,
    units,
    truthU,
    inputs: [spec.sinogram!, ...(spec.reference ? [spec.reference] : [])],
    label: spec.sinogram!,
    notices: [
      `${spec.sinogram}: physical line integrals, pixel ${sp[2]} mm, muWater ${meta.muWater}/mm (scale ${
        lineIntegralScale(meta).toPrecision(4)
      })`,
      ...notices,
    ],
  };
}

/**
 * A fan geometry applied with the volume's pixel size when it states none, a cone geometry with the
 * volume's voxel size `spacing` (`[dz, dy, dx]`, default `pixelSize` cubed); parallel ones are in pixels.
 */
export function withPixelSize(g: Geometry, pixelSize: number, spacing?: [number, number, number]): Geometry {
  if (isCone(g)) return g.voxelSize ? g : { ...g, voxelSize: spacing ?? [pixelSize, pixelSize, pixelSize] };
  return g.type === "fanflat" && g.pixelSize === undefined ? { ...g, pixelSize } : g;
}

/**
 * The geometry of a `--geometry` file for a volume of `shape` with `pixel` mm pixels: refuses a grid that
 * does not match, adds a notice where the pixel sizes differ and a warning where the detector misses part
 * of the slice.
 */
export async function geometryForVolume(
  path: string,
  shape: [number, number, number],
  pixel: number,
  notices: string[],
  spacing: [number, number, number] = [pixel, pixel, pixel],
): Promise<Geometry> {
  const file = await readGeometryFile(path);
  const [Z, H, W] = shape;
  if (isCone(file.geometry) && file.slices !== undefined && file.slices !== Z) {
    throw new UserError(
      `geometry file ${path} is for ${file.slices} slices but the volume has ${Z}: pick them with --slices A:B or use a matching geometry`,
    );
  }
  if (file.grid && (file.grid[0] !== H || file.grid[1] !== W)) {
    throw new UserError(
      `geometry file ${path} is for ${file.grid[0]}x${
        file.grid[1]
      } slices but the volume has ${H}x${W}: use a matching geometry (or --resample to its size)`,
    );
  }
  if (file.geometry.type === "fanflat" && file.pixelSize && Math.abs(file.pixelSize - pixel) > 1e-3 * pixel) {
    notices.push(
      `note: ${path} sets ${file.pixelSize} mm pixels; the volume's are ${pixel} mm: the geometry's apply`,
    );
  }
  if (isCone(file.geometry) && file.geometry.voxelSize) {
    const v = file.geometry.voxelSize;
    if (v.some((x, i) => Math.abs(x - spacing[i]) > 1e-3 * spacing[i])) {
      notices.push(
        `note: ${path} sets ${v.join(" x ")} mm voxels; the volume's are ${
          spacing.join(" x ")
        } mm: the geometry's apply`,
      );
    }
  }
  const g = withPixelSize(file.geometry, pixel, spacing);
  const warn = checkGeometry(g, { Z: shape[0], H, W }, pixel, spacing);
  if (warn) notices.push(warn);
  return g;
}

/**
 * The volume of a case as every task reads it: the file (or `sample:NAME`) in its unit, the slice range
 * (the default case's when no input is given), resampled to the model's slice size where allowed; with
 * the notices worth printing. `reconstruct`, `evaluate`, `simulate` and z-super-resolution all read here.
 *
 * @example
 * ```ts ignore
 * const { volume, notices } = await readCaseVolume({ input: "ct.nii.gz", slices: "10:46" });
 * ```
 */
export async function readCaseVolume(
  spec: Pick<CaseSpec, "input" | "unit" | "slices" | "imageSize" | "resample">,
): Promise<{ volume: Volume; notices: string[]; input: string; range?: string }> {
  const input = spec.input ?? DEFAULT_CASE.input;
  const notices: string[] = [];
  let volume = await readVolumeFile(input, { unit: spec.unit });
  if (volume.unitNotice) notices.push(`note: ${volume.unitNotice}`);
  if (volume.spacingNotice) notices.push(`note: ${volume.spacingNotice}`);
  const range = spec.slices ?? (spec.input ? undefined : DEFAULT_CASE.slices);
  if (range) volume = cropSlices(volume, range);
  const [, H, W] = volume.shape;
  const size = spec.imageSize;
  if (size && (H !== size || W !== size)) {
    if (!spec.resample) {
      throw new UserError(
        `the model works on ${size}x${size} slices but ${input} has ${H}x${W}: pass --resample to resample them (and back), or use a matching model`,
      );
    }
    volume = resampleSlices(volume, size);
    notices.push(`note: resampled ${H}x${W} slices to ${size}x${size} (--resample)`);
  }
  return { volume, notices, input, ...(range ? { range } : {}) };
}

async function loadVolumeCase(
  gpu: GpuContext,
  spec: CaseSpec,
  muWater: number,
  options: LoadCaseOptions,
): Promise<Case> {
  const { volume, notices, input, range } = await readCaseVolume(spec);
  const [Z, H, W] = volume.shape;
  if (Math.abs(volume.spacing[1] - volume.spacing[2]) > 1e-3 * volume.spacing[2]) {
    notices.push(
      `note: pixels are ${volume.spacing[2]} x ${
        volume.spacing[1]
      } mm; line integrals use the column spacing`,
    );
  }
  const units = unitsOf(volume, muWater);
  const truthU = toU(volume.data, units);
  const given = spec.geometry
    ? await geometryForVolume(spec.geometry, [Z, H, W], volume.spacing[2], notices, volume.spacing)
    : undefined;
  const { y, geometry } = await measure(gpu, truthU, { Z, H, W }, {
    geometry: given,
    views: spec.views ?? 8,
    angleRange: spec.angleRange,
    photons: spec.noise,
    seed: spec.seed,
    attenuationPerPixel: muWater * volume.spacing[2],
    openOperator: options.openOperator,
  });
  return {
    y,
    geometry,
    shape: [Z, H, W],
    spacing: volume.spacing,
    affine: volume.affine,
    units,
    truthU,
    inputs: [input],
    label: `${input}${range ? ` slices ${range}` : ""}`,
    notices,
  };
}

/**
 * A volume in the case's own unit (HU in, HU out; nothing clipped) on the case's grid, from data in u;
 * anything with a unit map and a grid will do (a z-super-resolution's thin grid too).
 *
 * @example
 * ```ts ignore
 * const recon = caseVolume(c, xInU);
 * ```
 */
export function caseVolume(c: Pick<Case, "units" | "shape" | "spacing" | "affine">, u: Float32Array): Volume {
  const v = makeVolume(fromU(u, c.units), c.shape, {
    spacing: c.spacing,
    affine: c.affine,
    unit: c.units.unit,
  });
  if (c.units.imageHu) v.imageHu = c.units.imageHu;
  return v;
}
