// The ABI v1 exports. A plugin's entry file re-exports them:
//
//   export * from "@switchyard/sdk/assembly/exports";
//
// Nothing here is called by the plugin itself.
import { registered, runRoute, runRedact, pack, ErrorCode, log, Level } from "./index";

/** The version marker: ABI v1. */
export function switchyard_abi_version(): i32 {
  return 1;
}

/** A buffer of size bytes for the host, valid for the instance's life (outside the GC heap). */
export function alloc(size: i32): i32 {
  if (size < 0) return 0;
  return <i32>heap.alloc(<usize>max(size, 1));
}

/** Receives the plugin's config once per instance. */
export function init(ptr: i32, len: i32): i32 {
  const cfg = String.UTF8.decodeUnsafe(<usize>ptr, <usize>max(len, 0));
  if (!registered.initFn(cfg)) {
    log(Level.Error, "init: config refused");
    return ErrorCode.BadConfig;
  }
  return 0;
}

/** The plugin's name. */
export function plugin_name(): i64 {
  return pack(changetype<usize>(registered.name), <u32>registered.name.byteLength);
}

/** The plugin's version. */
export function plugin_version(): i64 {
  return pack(changetype<usize>(registered.version), <u32>registered.version.byteLength);
}

/** The registered hooks: 1 route, 2 redact. */
export function plugin_kinds(): i32 {
  return registered.kinds;
}

/** The route hook. */
export function route(ptr: i32, len: i32): i64 {
  return runRoute(<usize>ptr, <u32>len);
}

/** The redact hook. */
export function redact(ptr: i32, len: i32): i64 {
  return runRedact(<usize>ptr, <u32>len);
}
