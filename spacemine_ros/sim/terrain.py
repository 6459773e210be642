"""The ground the scraper works: a height map of regolith, with buried rocks.

Heights are kept on a regular grid (world x, y); a cut lowers every cell under the blade
to the blade's height and returns the volume removed, so the mass the scraper collects
is exactly the ground it took away. Rock cells cannot be cut: a blade that reaches one
below its top is blocked.
"""

import math

import numpy as np


class Terrain:
    """Height map around the rig."""

    def __init__(self, x_range=(-0.5, 2.5), y_range=(-2.0, 2.0), resolution=0.02):
        self.resolution = float(resolution)
        self.x0, self.y0 = float(x_range[0]), float(y_range[0])
        nx = int(math.ceil((x_range[1] - x_range[0]) / resolution))
        ny = int(math.ceil((y_range[1] - y_range[0]) / resolution))
        self.heights = np.zeros((nx, ny))  # ground surface [m], 0 = original ground
        self.rock_top = np.full((nx, ny), -np.inf)  # rock surface [m], -inf: no rock
        self.cell_area = self.resolution ** 2

    def _cells(self, points):
        index = np.floor((points - [self.x0, self.y0]) / self.resolution).astype(int)
        inside = ((index[:, 0] >= 0) & (index[:, 0] < self.heights.shape[0])
                  & (index[:, 1] >= 0) & (index[:, 1] < self.heights.shape[1]))
        return index[inside]

    def blade_cells(self, centre, across, width):
        """Return the grid cells under a blade edge centred at (x, y), along unit vector across.

        The cells of points spaced along the edge as numpy.linspace spaces them, each once,
        in row order. Plain floats: this runs every physics step of a moving blade, and
        numpy's cost per call is many times its arithmetic on two dozen points.
        """
        count = max(int(math.ceil(width / self.resolution)) + 1, 2)
        start, stop = -width / 2.0, width / 2.0
        step = (stop - start) / (count - 1)
        cx, cy, ax, ay = float(centre[0]), float(centre[1]), float(across[0]), float(across[1])
        x0, y0, resolution = self.x0, self.y0, self.resolution
        nx, ny = self.heights.shape
        cells = set()
        for k in range(count):
            offset = stop if k == count - 1 else k * step + start
            i = math.floor((offset * ax + cx - x0) / resolution)
            j = math.floor((offset * ay + cy - y0) / resolution)
            if 0 <= i < nx and 0 <= j < ny:
                cells.add((i, j))
        return np.array(sorted(cells), dtype=int).reshape(-1, 2)

    def depth_at(self, cells, z):
        """Mean depth of ground above height z over cells [m]."""
        if not len(cells):
            return 0.0
        heights = self.heights[cells[:, 0], cells[:, 1]]
        return float(np.mean(np.maximum(heights - z, 0.0)))

    def blocked(self, cells, z):
        """Return True if a rock in cells stands above height z."""
        if not len(cells):
            return False
        return bool(np.any(self.rock_top[cells[:, 0], cells[:, 1]] > z))

    def cut(self, cells, z, max_volume=math.inf):
        """Lower the cells to z; return the volume removed [m^3] (at most max_volume).

        If the blade can take less than the cut, every cell is lowered by the same share
        of its cut, so the ground keeps exactly what the blade did not take.
        """
        if not len(cells):
            return 0.0
        heights = self.heights[cells[:, 0], cells[:, 1]]
        excess = np.maximum(heights - z, 0.0)
        volume = float(excess.sum()) * self.cell_area
        if volume <= 0.0:
            return 0.0
        share = min(max_volume / volume, 1.0) if max_volume < math.inf else 1.0
        self.heights[cells[:, 0], cells[:, 1]] = heights - excess * share
        return volume * share

    def place_rock(self, centre, radius, top):
        """Put a rock (uncuttable) of radius [m] with its top at height top [m]."""
        xs = self.x0 + (np.arange(self.heights.shape[0]) + 0.5) * self.resolution
        ys = self.y0 + (np.arange(self.heights.shape[1]) + 0.5) * self.resolution
        gx, gy = np.meshgrid(xs, ys, indexing='ij')
        inside = (gx - centre[0]) ** 2 + (gy - centre[1]) ** 2 <= radius ** 2
        self.rock_top[inside] = np.maximum(self.rock_top[inside], top)

    def removed_volume(self):
        """Volume removed from the original ground [m^3]."""
        return float(np.maximum(-self.heights, 0.0).sum()) * self.cell_area
