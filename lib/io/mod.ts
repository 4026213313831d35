/**
 * `blendct/io`: NIfTI, npy/npz, DICOM series (with RLE and JPEG lossless), the bundled samples, sinogram
 * files with their sidecars, geometry files, raw TIFF projections with flat and dark fields, and atomic
 * writes that never replace an input.
 * @module
 */
export * from "./nifti.ts";
export * from "./npy.ts";
export {
  type DicomFile,
  isRawDataset,
  type ReadDicomOptions,
  readDicomSeries,
  readDicomSeriesWithCodecs,
} from "./dicom.ts";
export { prepareDicomCodecs } from "./dicom_wasm.ts";
export { CodecError, decodeJpegLossless, decodeRle, type JpegLosslessFrame } from "./dicom_codecs.ts";
export * from "./samples.ts";
export * from "./files.ts";
export * from "./sinogram.ts";
export * from "./geometry_file.ts";
export * from "./projections.ts";
export type { MakeVolumeOptions } from "../volume.ts";
export type { SafeParseResult, Schema, SchemaIssue } from "../schema.ts";
export type { Unit } from "../units.ts";
export type { Case, CaseSpec, LoadCaseOptions } from "../jobs/case.ts";
export type { OpenProblemOptions } from "../jobs/problem.ts";
export type { AdapterSummary, Binding, GpuContextOptions } from "../gpu/context.ts";
