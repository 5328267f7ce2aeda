/**
 * The options and results of the point queries (knnPoints, radiusSearch, pointFeatures), and
 * the checked job they become, shared by the entries and the code that runs them.
 *
 * @module
 */

import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import type { KernelPlacement, KernelPlacementOptions } from "./kernel_options.ts";
import type { CoordinateInput, Triples } from "./mesh_input.ts";

/** The largest k (and maxNeighbours) of a point query (GM_POINT_MAX_K). */
export const MAX_POINT_K = 256;
/** Floats of features a query (GM_FEATURE_FLOATS). */
export const FEATURE_FLOATS = 11;
export const EXCLUDE_SELF = 1;

/** Options every point query takes. */
export interface PointQueryOptions extends KernelPlacementOptions {
  /**
   * Where a query that the device cannot hold runs: "none" (default) throws the manager's
   * OutOfMemoryError; "cpu" runs it on the cpu device instead (host arrays only), and says so
   * once on stderr.
   */
  fallback?: "none" | "cpu";
}

/** Options for {@linkcode knnPoints}. */
export interface KnnPointsOptions extends PointQueryOptions {
  /** Query points (default: the cloud itself, each point's neighbours without itself). */
  queries?: CoordinateInput;
  /** For self queries, whether a point is left out of its own neighbours (default true). */
  excludeSelf?: boolean;
}

/** Options for {@linkcode radiusSearch}. */
export interface RadiusSearchOptions extends KnnPointsOptions {
  /** Neighbours kept per query, the nearest first (default 32, at most 256). */
  maxNeighbours?: number;
}

/** Options for {@linkcode pointFeatures}: a neighbourhood of `k` points, or within `radius`. */
export interface PointFeaturesOptions extends PointQueryOptions {
  /** Neighbourhood: the point and its k − 1 nearest others (as a k-d tree's query of k). */
  k?: number;
  /** Neighbourhood: the points within this distance (the nearest maxNeighbours of them). */
  radius?: number;
  /** With `radius`: most points in a neighbourhood (default 64, at most 256). */
  maxNeighbours?: number;
}

/** Neighbours on the host: row i holds query i's, nearest first, ties by the smaller index. */
export interface PointNeighbours {
  /** Indices into the cloud, queries × k (−1 past the neighbours found). */
  indices: Int32Array;
  /** Euclidean distances, queries × k (Infinity past the neighbours found). */
  distances: Float32Array;
}

/** Radius-search results on the host. */
export interface RadiusNeighbours extends PointNeighbours {
  /** Neighbours found per query (at most maxNeighbours). */
  counts: Int32Array;
}

/** Per-point features of the neighbourhood covariance (as ign_lidar computes them). */
export interface PointFeatures {
  /** Unit normal (the smallest eigenvalue's vector), xyz per point, oriented toward +z. */
  normal: Float32Array;
  /** Eigenvalues λ1 ≥ λ2 ≥ λ3 of the covariance (divided by the neighbourhood's size), per point. */
  eigenvalues: Float32Array;
  /** (λ1 − λ2) / λ1 (0 for a neighbourhood of one repeated point, as the three below). */
  linearity: Float32Array;
  /** (λ2 − λ3) / λ1. */
  planarity: Float32Array;
  /** λ3 / λ1. */
  sphericity: Float32Array;
  /** 1 − |normal z|. */
  verticality: Float32Array;
  /** Change of curvature λ3 / (λ1 + λ2 + λ3). */
  changeOfCurvature: Float32Array;
}

/** Neighbours as owning device buffers (labelled `knn.out.*`), for device inputs. */
export type DevicePointNeighbours = { [K in keyof PointNeighbours]: DeviceBuffer };
/** Radius-search results as owning device buffers. */
export type DeviceRadiusNeighbours = { [K in keyof RadiusNeighbours]: DeviceBuffer };
/** Features in one owning device buffer (`buffer`), with a typed view of each. */
export type DevicePointFeatures =
  & { buffer: DeviceBuffer }
  & { [K in keyof PointFeatures]: TypedDeviceView<Float32Array> };

/** What {@linkcode planKnnPoints} says a call will take. */
export interface PointQueryPlan {
  /** Bytes of the index (sorted points, tree boxes, frame). */
  indexBytes: number;
  /** Bytes the index build holds at least (input, order, Morton codes, sort storage, sorted points). */
  buildBytes: number;
  /**
   * Points a host float64 cloud is uploaded in at a time when the whole upload would not fit
   * (twice, the second time as float offsets: slower, the same index); 0 when it goes up whole.
   */
  uploadChunkPoints: number;
  /** Output bytes per query. */
  bytesPerQuery: number;
  /** Queries per chunk when the outputs go to the host. */
  chunkQueries: number;
  /** Chunks the queries are cut into. */
  chunks: number;
  /** Most bytes the call holds at once. */
  peakBytes: number;
  /** Whether the manager can give that now. */
  fits: boolean;
}

/** A checked point query. */
export interface PointJob {
  placement: KernelPlacement;
  points: Triples;
  queries: Triples | null;
  k: number;
  radius: number;
  features: boolean;
  excludeSelf: boolean;
}
