import type { NextFunction, Request, Response } from 'express';
import { pathToRegexp } from 'path-to-regexp';
import { errors } from '../lib/errors.js';

/** A path the server answers, and the methods it answers there. */
export interface KnownPath {
  /** The route as written, e.g. `/api/v1/links/:id`: the `route` label of the request metrics. */
  pattern: string;
  matches(path: string): boolean;
  methods: readonly string[];
}

/** `router.listRoutes()` of the router package (2.3+), Express 5's router. */
interface ListsRoutes {
  listRoutes(): { path: string | RegExp; methods: string[] | undefined; router: ListsRoutes | undefined }[];
}

/**
 * Every route of an Express app's or router's own table, mounted routers included, under its
 * full path and matched as the router matches it: case-insensitive, a trailing slash allowed.
 */
export function routesOf(router: object, prefix = ''): KnownPath[] {
  return (router as ListsRoutes).listRoutes().flatMap(({ path, methods, router: mounted }): KnownPath[] => {
    if (typeof path !== 'string') throw new Error(`routesOf: a route path must be a string, not ${String(path)}`);
    const full = `${prefix}${path}`.replace(/\/+$/, '');
    if (mounted) return routesOf(mounted, full);
    const { regexp } = pathToRegexp(full || '/', { end: true, trailing: true, sensitive: false });
    return [{ pattern: full || '/', matches: (p) => regexp.test(p), methods: methods ?? [] }];
  });
}

/**
 * The pattern of the route a request is for, whatever became of it (refused before its handler
 * ran, 404 for an unknown id, 405): the one answering its method, else the first matching its path.
 */
export function routePatternOf(table: readonly KnownPath[], path: string, method: string): string | undefined {
  let first: KnownPath | undefined;
  for (const known of table) {
    if (!known.matches(path)) continue;
    if (known.methods.includes(method) || known.methods.includes('*')) return known.pattern;
    first ??= known;
  }
  return first?.pattern;
}

/** The methods the routes matching `path` answer; undefined when none matches, or one takes every method. */
function methodsFor(table: KnownPath[], path: string): Set<string> | undefined {
  const methods = new Set<string>();
  // A path a fixed route names (/links/export) is that route's alone, not also /links/:id's.
  const matching = table.filter((known) => known.matches(path));
  const fixed = matching.filter((known) => !/[:*]/.test(known.pattern));
  for (const known of fixed.length > 0 ? fixed : matching) {
    if (known.methods.includes('*')) return undefined;
    for (const method of known.methods) methods.add(method);
  }
  return methods.size === 0 ? undefined : methods;
}

/**
 * RFC 9110 §15.5.6: a path the router knows, asked with a method none of its routes answers,
 * gets 405 with Allow listing those it does, and OPTIONS gets 204 with the same Allow. Paths no
 * route knows go on (to a 404). Mount it before authentication: which methods a path answers is
 * no secret (the OpenAPI document lists them), and a caller told 401 for a wrong method would
 * fix the wrong thing.
 *
 * `known` is read at the first request, once every route is bound.
 */
export function allowedMethods(known: () => KnownPath[]) {
  let table: KnownPath[] | undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    table ??= known();
    const methods = methodsFor(table, req.path);
    if (methods === undefined || methods.has(req.method)) return next();
    const allow = [...methods.add('OPTIONS')].sort().join(', ');
    if (req.method !== 'OPTIONS') throw errors.methodNotAllowed(req.method, allow);
    res.setHeader('allow', allow);
    res.status(204).end();
  };
}
