/**
 * `blendct/solve`: solvers that take any `LinearOperator` — CG on the normal equations (with the z-TV term),
 * CGLS, 3D TV by PDHG with non-negativity — the data term's residual and gradient, and the z-difference operator.
 * @module
 */
export { NormalCg } from "./cg.ts";
export { cgls, type CglsOptions } from "./cgls.ts";
export { DataTerm } from "./data_term.ts";
export { tv3d, tvObjective, type TvOptions, tvPdhg, TvSolver } from "./tv.ts";
export { ZDiff } from "./zdiff.ts";
