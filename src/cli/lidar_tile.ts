/**
 * A LiDAR-like tile for the demo, the example and the tests: ground with gentle relief, box
 * buildings (flat roofs, walls) and round tree crowns, at Lambert-93-like offsets (x ≈ 650 km,
 * y ≈ 6,860 km), rounded to 1 mm as LAS files store them, in a shuffled order. A seeded sequence,
 * so a run repeats.
 *
 * @module
 */

/** What each point of a tile is, as generated. */
export const TileClass = { ground: 0, roof: 1, wall: 2, tree: 3 } as const;

/** A generated tile: xyz as float64 (3 a point) and each point's class. */
export interface LidarTile {
  points: Float64Array;
  classes: Uint8Array;
  /** The tile's side in metres. */
  side: number;
}

/** `count` points on a square tile of `side` metres (about 1 point per square metre by default). */
export function lidarTile(count: number, side = Math.sqrt(count), seed = 1): LidarTile {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = Math.imul(state ^ (state >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  const buildings = Array.from({ length: Math.max(1, Math.round(side * side / 4000)) }, () => ({
    x: side * (0.1 + 0.8 * next()),
    y: side * (0.1 + 0.8 * next()),
    hx: 4 + 8 * next(),
    hy: 4 + 8 * next(),
    h: 5 + 15 * next(),
  }));
  const trees = Array.from({ length: Math.max(1, Math.round(side * side / 2000)) }, () => ({
    x: side * next(),
    y: side * next(),
    r: 1.5 + 2.5 * next(),
    h: 6 + 8 * next(),
  }));
  const points = new Float64Array(3 * count);
  const classes = new Uint8Array(count);
  const ground = (x: number, y: number) => 2 * Math.sin(x / 90) + 1.5 * Math.cos(y / 70);
  for (let i = 0; i < count; i++) {
    const kind = next();
    let x: number, y: number, z: number, c: number;
    if (kind < 0.2) {
      const b = buildings[Math.floor(next() * buildings.length)];
      x = b.x + b.hx * (2 * next() - 1), y = b.y + b.hy * (2 * next() - 1);
      z = ground(b.x, b.y) + b.h, c = TileClass.roof;
    } else if (kind < 0.25) {
      const b = buildings[Math.floor(next() * buildings.length)];
      const t = 2 * next() - 1, onX = next() < 0.5, sign = next() < 0.5 ? -1 : 1;
      x = onX ? b.x + b.hx * t : b.x + sign * b.hx;
      y = onX ? b.y + sign * b.hy : b.y + b.hy * t;
      z = ground(b.x, b.y) + b.h * next(), c = TileClass.wall;
    } else if (kind < 0.35) {
      const t = trees[Math.floor(next() * trees.length)];
      const u = 2 * Math.PI * next(), v = Math.acos(2 * next() - 1), r = t.r * Math.cbrt(next());
      x = t.x + r * Math.sin(v) * Math.cos(u), y = t.y + r * Math.sin(v) * Math.sin(u);
      z = ground(t.x, t.y) + t.h + r * Math.cos(v), c = TileClass.tree;
    } else {
      x = side * next(), y = side * next();
      z = ground(x, y) + 0.03 * (2 * next() - 1), c = TileClass.ground;
    }
    points[3 * i] = Math.round((650_000 + x) * 1000) / 1000;
    points[3 * i + 1] = Math.round((6_860_000 + y) * 1000) / 1000;
    points[3 * i + 2] = Math.round((100 + z) * 1000) / 1000;
    classes[i] = c;
  }
  return { points, classes, side };
}
