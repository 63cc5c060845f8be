// Stand-ins for the Node globals of node-globals.js, which is compiled on a script's first use of
// one of them (`typeof URL` included): most runs never touch them, and compiling that file would
// about double the cost of making a context. The host puts the file's text in
// `__nodeGlobalsSource` just before the parts; lazy-source.js's loader takes it and freezes what the
// file returns in a context whose built-ins are frozen.
"use strict";

(function () {
  var G = globalThis;
  var load = G.__lazySource("__nodeGlobalsSource");

  // [name, enumerable]: Node lists structuredClone, crypto and the immediates among the global
  // object's keys, and not the constructors.
  [["process", false], ["Buffer", false], ["URL", false], ["URLSearchParams", false], ["TextEncoder", false],
    ["TextDecoder", false], ["structuredClone", true], ["crypto", true], ["DOMException", false], ["Event", false],
    ["EventTarget", false], ["AbortController", false], ["AbortSignal", false], ["setImmediate", true],
    ["clearImmediate", true]].forEach(function (entry) {
    var name = entry[0];
    Object.defineProperty(G, name, {
      configurable: true,
      enumerable: entry[1],
      get: function () { return load()[name]; },
      // A context whose built-ins stay open lets a script replace it; a locked one keeps it.
      set: function (value) {
        var d = Object.getOwnPropertyDescriptor(G, name);
        if (d.configurable) Object.defineProperty(G, name, { value: value, writable: true, configurable: true, enumerable: entry[1] });
      },
    });
  });
  Object.defineProperty(G, "global", { value: G, writable: true, configurable: true, enumerable: true });
  // Built-ins newer than Node 20 that QuickJS has: code that feature-tests for them (or relies on
  // them) must take the same path as in the real runner. Iterator and its helpers stay (the prelude
  // reaches hidden intrinsics through them), as does InternalError (the prelude reads limits by it).
  [[Object, ["groupBy"]], [Map, ["groupBy"]], [Promise, ["withResolvers", "try"]], [Array, ["fromAsync"]],
    [RegExp, ["escape"]], [Error, ["isError"]], [Math, ["sumPrecise", "f16round"]], [JSON, ["rawJSON", "isRawJSON"]],
    [Uint8Array, ["fromBase64", "fromHex"]],
    [Uint8Array.prototype, ["toBase64", "toHex", "setFromBase64", "setFromHex"]],
    [Set.prototype, ["union", "intersection", "difference", "symmetricDifference", "isSubsetOf", "isSupersetOf",
      "isDisjointFrom"]],
    [Map.prototype, ["getOrInsert", "getOrInsertComputed"]], [WeakMap.prototype, ["getOrInsert", "getOrInsertComputed"]],
    [ArrayBuffer.prototype, ["transfer", "transferToFixedLength", "detached", "immutable", "sliceToImmutable",
      "transferToImmutable"]],
    [DataView.prototype, ["getFloat16", "setFloat16"]],
    [G, ["Float16Array", "DisposableStack", "AsyncDisposableStack", "SuppressedError"]],
  ].forEach(function (entry) {
    entry[1].forEach(function (name) { delete entry[0][name]; });
  });
  // Node lists these among the global object's keys; QuickJS makes them hidden.
  ["atob", "btoa", "queueMicrotask", "performance"].forEach(function (name) {
    if (Object.prototype.hasOwnProperty.call(G, name)) Object.defineProperty(G, name, { enumerable: true });
  });
})();
