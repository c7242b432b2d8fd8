"""Torch backend: the CPU backend's warp as tensor ops (grid_sample), for a GPU when there is one.

It shows the interface a learned renderer would fill: `prepare` builds tensors once on
`config.device`; `render` runs the per-frame maths there. The rig (a few thousand numbers) stays
in numpy; the eye and mouth layers are drawn on the CPU after the warp (small boxes), so on a
GPU the frame makes one round trip. Whole-frame warp (no moving-box shortcut): simpler, and on a
GPU the box saves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face import mesh as M
from ..face.portrait import PortraitConfig
from ..motion.frame import MotionFrame
from .base import ImageInput, PortraitState, RenderConfig, check_state
from .cpu import (Prepared, draw_mouth, fold_fix, is_rest, posed_points, prepare_geometry,
                  rest_image)


@dataclass(frozen=True)
class TorchCache:
    prep: Prepared
    weights: object  # torch sparse (G, N)
    nodes: object  # (1, rows, cols, 2) node positions, pixels
    source: object  # (1, 4, H, W) premultiplied person + alpha
    plate: object  # (1, 3, H, W)
    base_grid: object  # (1, H, W, 2) pixel coordinates


class TorchBackend:
    name = "torch"

    def __init__(self, config: RenderConfig = RenderConfig()):
        import torch

        self.config = config
        self.torch = torch
        self.device = torch.device(config.device)

    def prepare(self, image: ImageInput,
                portrait_config: PortraitConfig = PortraitConfig()) -> PortraitState:
        torch = self.torch
        prep = prepare_geometry(image, portrait_config, self.config)
        dev = self.device
        w = prep.grid.weights.tocoo()
        weights = torch.sparse_coo_tensor(np.vstack([w.row, w.col]), w.data.astype(np.float32),
                                          w.shape, device=dev, check_invariants=False).coalesce()
        h, wd = prep.base.shape[:2]
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                                torch.arange(wd, dtype=torch.float32), indexing="ij")
        cache = TorchCache(
            prep=prep, weights=weights,
            nodes=torch.from_numpy(prep.grid.nodes).to(dev)[None],
            source=torch.from_numpy(prep.source).permute(2, 0, 1)[None].contiguous().to(dev),
            plate=torch.from_numpy(prep.plate).permute(2, 0, 1)[None].contiguous().to(dev),
            base_grid=torch.stack([xs, ys], -1)[None].to(dev))
        return PortraitState(self.name, prep.portrait, self.config, cache)

    def _sample(self, img, pix, size):
        """grid_sample with pixel coordinates (align_corners=False convention)."""
        F = self.torch.nn.functional
        w, h = size
        norm = self.torch.stack([(pix[..., 0] + 0.5) / w * 2 - 1,
                                 (pix[..., 1] + 0.5) / h * 2 - 1], -1)
        return F.grid_sample(img, norm, mode="bilinear", padding_mode="border",
                             align_corners=False)

    def render(self, state: PortraitState, frame: MotionFrame) -> np.ndarray:
        check_state(state, self.name)
        torch = self.torch
        F = torch.nn.functional
        c: TorchCache = state.cache
        prep = c.prep
        if is_rest(frame):
            return rest_image(prep, self.config.alpha)
        pos, depth = posed_points(prep, frame)
        disp = torch.from_numpy((pos - prep.rest_uv).astype(np.float32)).to(self.device)
        rows, cols = prep.grid.shape
        g = prep.grid.step
        with torch.no_grad():
            d = torch.sparse.mm(c.weights, disp).reshape(1, rows, cols, 2)  # (1, r, c, 2)
            d_img = d.permute(0, 3, 1, 2)  # (1, 2, r, c)
            m = c.nodes - d
            for _ in range(self.config.inverse_iterations):
                # Node k sits at pixel (k + 0.5) g - 0.5: the same align_corners=False grid.
                target = c.nodes - self._sample(d_img, (m + 0.5) / g - 0.5, (cols, rows)).permute(
                    0, 2, 3, 1)
                m = m + self.config.inverse_relax * (target - m)
            fix = fold_fix(prep, pos, depth)
            if fix is not None:  # the nearer surface where the mesh folds (as the CPU backend)
                node, src = fix
                m = m.reshape(-1, 2).clone()
                m[torch.from_numpy(node).to(self.device)] = torch.from_numpy(src).to(self.device)
                m = m.reshape(1, rows, cols, 2)
            h, w = prep.base.shape[:2]
            disp_full = F.interpolate((m - c.nodes).permute(0, 3, 1, 2), size=(h, w),
                                      mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
            warped = self._sample(c.source, c.base_grid + disp_full, (w, h))  # (1, 4, H, W)
            a = warped[:, 3:]
            rgb = warped[:, :3] + (1 - a) * c.plate
            rgb = rgb[0].permute(1, 2, 0).cpu().numpy()
            alpha = a[0, 0].cpu().numpy()
        out = np.ascontiguousarray(rgb)
        uv = pos[:M.NUM_LANDMARKS]
        draw_mouth(prep, out, uv, frame)
        for eye in prep.eyes:
            eye.draw(out, uv)
        img = (np.clip(out + 0.5, 0, 255)).astype(np.uint8)
        if self.config.alpha:
            return np.dstack([img, np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)])
        return img
