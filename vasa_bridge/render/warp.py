"""Dense warp from control-point motion: piecewise-affine on a low-resolution grid, inverted by
fixed-point iteration, upsampled over the moving region only.

Forward field: each grid node's displacement is the barycentric blend (a sparse (G, N) matrix,
precomputed on the rest triangulation) of its triangle's three control-point displacements.
`cv2.remap` needs the backward map (output pixel -> source pixel): m(q) = q - D(m(q)), solved by
iterating m <- q - D(m) a few times at grid resolution (converges where the warp does not fold).
Grid nodes sit at pixel centres of g x g blocks, so `cv2.resize` by g upsamples them exactly.
Where the turned mesh folds over itself the inverse is not single-valued: `resolve_folds`
rasterises the triangles there with a z-buffer so the nearer surface shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import csr_matrix


@dataclass(frozen=True)
class WarpGrid:
    step: int  # g: pixels per grid cell
    shape: tuple[int, int]  # (rows, cols) of grid nodes
    nodes: np.ndarray  # (rows, cols, 2) float32 node positions (u, v) in pixels
    weights: csr_matrix  # (rows*cols, N) barycentric weights on the control points
    triangles: np.ndarray  # (T, 3) the rest triangulation (control-point indices)


def make_grid(points_uv: np.ndarray, width: int, height: int, step: int,
              use: np.ndarray | None = None) -> WarpGrid:
    """Triangulate the rest control points (N, 2) and bind every grid node to a triangle.

    use: (N,) bool, which points take part (others get zero weight, e.g. the irises).
    """
    if width % step or height % step:
        raise ValueError(f"image {width}x{height} is not a multiple of the grid step {step}")
    from scipy.spatial import Delaunay  # ~0.3 s to import: only when no cached grid serves

    n = len(points_uv)
    idx = np.arange(n) if use is None else np.flatnonzero(use)
    tri = Delaunay(points_uv[idx])
    rows, cols = height // step, width // step
    gu = (np.arange(cols) + 0.5) * step - 0.5
    gv = (np.arange(rows) + 0.5) * step - 0.5
    nodes = np.stack(np.meshgrid(gu, gv), axis=-1).astype(np.float32)  # (rows, cols, 2)
    flat = nodes.reshape(-1, 2).astype(np.float64)
    simplex = tri.find_simplex(flat)
    # Nodes outside the hull (only possible at the very border) snap to the nearest inside.
    outside = simplex < 0
    if outside.any():
        clamped = np.clip(flat[outside], [0.5, 0.5], [width - 1.5, height - 1.5])
        simplex[outside] = tri.find_simplex(clamped)
        simplex[simplex < 0] = 0
    trans = tri.transform[simplex]  # (G, 3, 2) affine to barycentric
    b = np.einsum("gij,gj->gi", trans[:, :2], flat - trans[:, 2])
    bary = np.concatenate([b, 1 - b.sum(1, keepdims=True)], axis=1)  # (G, 3)
    bary = np.clip(bary, 0, 1)
    bary /= bary.sum(1, keepdims=True)
    cols_idx = idx[tri.simplices[simplex]]  # (G, 3) control-point indices
    g = len(flat)
    weights = csr_matrix((bary.ravel(), (np.repeat(np.arange(g), 3), cols_idx.ravel())),
                         shape=(g, n))
    return WarpGrid(step, (rows, cols), nodes, weights, idx[tri.simplices])


def grid_arrays(grid: WarpGrid) -> dict[str, np.ndarray]:
    """A grid as plain arrays (for an .npz file); `grid_from_arrays` is the inverse."""
    w = grid.weights.tocsr()
    return {"step": np.array(grid.step), "shape": np.array(grid.shape), "nodes": grid.nodes,
            "w_data": w.data, "w_indices": w.indices, "w_indptr": w.indptr,
            "w_shape": np.array(w.shape), "triangles": grid.triangles}


def grid_from_arrays(a) -> WarpGrid:
    weights = csr_matrix((a["w_data"], a["w_indices"], a["w_indptr"]),
                         shape=tuple(int(v) for v in a["w_shape"]))
    return WarpGrid(int(a["step"]), tuple(int(v) for v in a["shape"]), a["nodes"], weights,
                    a["triangles"])


def backward_field(grid: WarpGrid, displacement: np.ndarray, iterations: int = 3,
                   relax: float = 1.0) -> np.ndarray:
    """(N, 2) control-point displacements -> (rows, cols, 2) float32 source positions per node."""
    rows, cols = grid.shape
    d = np.asarray(grid.weights @ displacement, np.float32).reshape(rows, cols, 2)
    q = grid.nodes
    m = q - d
    g = float(grid.step)
    for _ in range(iterations):
        # Sample D at m (grid coordinates: node k sits at pixel (k + 0.5) g - 0.5).
        gx = (m[..., 0] + 0.5) / g - 0.5
        gy = (m[..., 1] + 0.5) / g - 0.5
        dm = cv2.remap(d, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # relax < 1 damps the step: converges where the warp stretches by up to 2 / relax - 1
        # (plain iteration diverges past 2x stretch, which shows as stripes).
        m = m + relax * ((q - dm) - m) if relax != 1.0 else q - dm
    return m


def moving_box(field: np.ndarray, grid: WarpGrid, tol: float = 0.02) -> tuple[int, int, int, int] | None:
    """Grid-node box (r0, r1, c0, c1) where the backward map differs from identity, +1 margin."""
    moved = np.abs(field - grid.nodes).max(axis=-1) > tol
    if not moved.any():
        return None
    r = np.flatnonzero(moved.any(axis=1))
    c = np.flatnonzero(moved.any(axis=0))
    rows, cols = grid.shape
    return (max(r[0] - 1, 0), min(r[-1] + 2, rows), max(c[0] - 1, 0), min(c[-1] + 2, cols))


def upsample(field: np.ndarray, grid: WarpGrid, box: tuple[int, int, int, int]
             ) -> np.ndarray:
    """(h, w, 2) float32 map (pixel size of the box) for cv2.remap from a node sub-grid.

    The displacement, not the map, is resized: cv2.resize replicates the outermost nodes into
    the half cell beyond them, which is harmless for a displacement that is ~0 there.
    """
    r0, r1, c0, c1 = box
    g = grid.step
    sub = field[r0:r1, c0:c1] - grid.nodes[r0:r1, c0:c1]
    full = cv2.resize(sub, ((c1 - c0) * g, (r1 - r0) * g), interpolation=cv2.INTER_LINEAR)
    xs = np.arange(c0 * g, c1 * g, dtype=np.float32)
    ys = np.arange(r0 * g, r1 * g, dtype=np.float32)
    full[..., 0] += xs[None, :]
    full[..., 1] += ys[:, None]
    return full


def _signed_area2(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Twice the signed areas of the triangles with corners a, b, c (each (T, 2))."""
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def fold_triangles(triangles: np.ndarray, rest_uv: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Indices of the triangles (T, 3) whose orientation flipped between rest and now: where the
    turned surface folds over itself (a back-facing sliver hidden behind the nearer layer)."""
    def signed_area(p):
        return _signed_area2(p[triangles[:, 0]], p[triangles[:, 1]], p[triangles[:, 2]])
    return np.flatnonzero(signed_area(rest_uv) * signed_area(uv) <= 0)


def resolve_folds(grid: WarpGrid, triangles: np.ndarray, rest_uv: np.ndarray, uv: np.ndarray,
                  depth: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Depth-ordered backward map where the warp folds: (node indices (K,), source (K, 2)).

    The fixed-point inverse is single-valued and blends the layers of a fold (a nose turned over
    the cheek, a nose tip pitched over the upper lip). Here the deformed triangles around the
    fold are rasterised at the grid nodes with a z-buffer, and each node takes its source from
    the nearest surface (largest depth), as a camera would see it.

    triangles: (T, 3) control-point indices (the mesh's own triangles); rest_uv, uv: (N, 2);
    depth: (N,) larger = nearer; margin: pixels around the folded triangles to re-rasterise.
    Returns None when nothing folds.
    """
    folded = fold_triangles(triangles, rest_uv, uv)
    if folded.size == 0:
        return None
    g = float(grid.step)
    rows, cols = grid.shape
    p = uv[triangles]  # (T, 3, 2)
    # Node-index boxes (inclusive) of every triangle: node k sits at pixel (k + 0.5) g - 0.5.
    c0 = np.clip(np.ceil((p[..., 0].min(1) + 0.5) / g - 0.5), 0, cols).astype(np.int64)
    c1 = np.clip(np.floor((p[..., 0].max(1) + 0.5) / g - 0.5), -1, cols - 1).astype(np.int64)
    r0 = np.clip(np.ceil((p[..., 1].min(1) + 0.5) / g - 0.5), 0, rows).astype(np.int64)
    r1 = np.clip(np.floor((p[..., 1].max(1) + 0.5) / g - 0.5), -1, rows - 1).astype(np.int64)
    # The fold region: folded triangles' boxes grown by the margin, painted with a 2D
    # difference array; then the triangles whose box meets it (summed-area lookups).
    m = int(np.ceil(margin / g))
    fr0, fr1 = np.clip(r0[folded] - m, 0, rows), np.clip(r1[folded] + m, -1, rows - 1)
    fc0, fc1 = np.clip(c0[folded] - m, 0, cols), np.clip(c1[folded] + m, -1, cols - 1)
    diff = np.zeros((rows + 1, cols + 1), np.float32)
    np.add.at(diff, (fr0, fc0), 1)
    np.add.at(diff, (fr0, fc1 + 1), -1)
    np.add.at(diff, (fr1 + 1, fc0), -1)
    np.add.at(diff, (fr1 + 1, fc1 + 1), 1)
    region = cv2.integral(diff)[1:rows + 1, 1:cols + 1] > 0.5  # (rows, cols) prefix sums
    sat = cv2.integral(region.view(np.uint8))  # (rows + 1, cols + 1) int32
    rr0, rr1 = np.minimum(r0, rows), np.maximum(r1 + 1, r0)
    cc0, cc1 = np.minimum(c0, cols), np.maximum(c1 + 1, c0)
    hits = sat[rr1, cc1] - sat[rr0, cc1] - sat[rr1, cc0] + sat[rr0, cc0]
    near = hits > 0
    tri = triangles[near]
    p = p[near]
    c0, c1, r0, r1 = c0[near], c1[near], r0[near], r1[near]
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    det = _signed_area2(a, b, c)
    ok = np.abs(det) > 1e-9
    tri, p, a, b, c, det = tri[ok], p[ok], a[ok], b[ok], c[ok], det[ok]
    c0, c1, r0, r1 = c0[ok], c1[ok], r0[ok], r1[ok]
    # Candidate (triangle, node) pairs: every node inside each triangle's box.
    nc = np.maximum(c1 - c0 + 1, 0)
    nr = np.maximum(r1 - r0 + 1, 0)
    count = nc * nr
    if count.sum() == 0:
        return None
    t = np.repeat(np.arange(len(tri)), count)  # (K,) candidate (triangle, node) pairs
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    col = c0[t] + k % nc[t]
    row = r0[t] + k // nc[t]
    x = (col + 0.5) * g - 0.5
    y = (row + 0.5) * g - 0.5
    # Barycentric coordinates of the node in the deformed triangle.
    l1 = ((x - a[t, 0]) * (c[t, 1] - a[t, 1]) - (y - a[t, 1]) * (c[t, 0] - a[t, 0])) / det[t]
    l2 = ((b[t, 0] - a[t, 0]) * (y - a[t, 1]) - (b[t, 1] - a[t, 1]) * (x - a[t, 0])) / det[t]
    l0 = 1.0 - l1 - l2
    eps = -1e-6
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    t, node, lam = t[inside], (row * cols + col)[inside], np.stack([l0, l1, l2], 1)[inside]
    if node.size == 0:
        return None
    z = (lam * depth[tri[t]]).sum(1)
    order = np.lexsort((-z, node))  # per node, nearest first
    node, t, lam = node[order], t[order], lam[order]
    first = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    node, t, lam = node[first], t[first], lam[first]
    src = np.einsum("kj,kjd->kd", lam, rest_uv[tri[t]])
    return node, src.astype(np.float32)
