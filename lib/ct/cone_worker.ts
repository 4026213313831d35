/**
 * The worker thread of a cone projector part (`cone_part.ts`): builds the part once, then runs its forward
 * or adjoint on the projector's shared buffers when asked, answering `{ ok }` or `{ ok: false, error }`.
 * @module
 */
import { ConePart, type PartSpec } from "./cone_part.ts";

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: unknown): void;
}

const scope = self as unknown as Scope;
let part: ConePart | null = null;
let xp: Float32Array, rays: Float32Array, acc: Float64Array;

scope.onmessage = async (e: MessageEvent) => {
  const m = e.data as
    | { op: "init"; spec: PartSpec; xp: SharedArrayBuffer; rays: SharedArrayBuffer; acc: SharedArrayBuffer }
    | { op: "forward" | "adjoint" };
  try {
    if (m.op === "init") {
      part = await ConePart.create(m.spec);
      xp = new Float32Array(m.xp);
      rays = new Float32Array(m.rays);
      acc = new Float64Array(m.acc);
    } else if (m.op === "forward") {
      part!.forward(xp, rays);
    } else {
      acc.fill(0);
      part!.adjoint(rays, acc);
    }
    scope.postMessage({ ok: true });
  } catch (err) {
    scope.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
};
