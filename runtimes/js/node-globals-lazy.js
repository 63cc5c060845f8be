// Stand-ins for the Node globals of node-globals.js, which is compiled on a script's first use of
// one of them (`typeof URL` included): most runs never touch them, and compiling that file would
// about double the cost of making a context. The host puts the file's text in
// `__nodeGlobalsSource` just before this file; it is taken from the global at once. What the file
// returns is frozen when the context's built-ins are (lockdown in prelude.js), so a run cannot leave
// a changed Buffer or URL to the next run of a reused context.
"use strict";

(function () {
  var G = globalThis;
  var source = G.__nodeGlobalsSource;
  delete G.__nodeGlobalsSource;
  var compile = Function;
  var objectPrototype = Object.prototype;
  var made = null;

  function freezeMade(root) {
    // Freezes what node-globals.js made, following own properties only: the shared built-ins it
    // reaches through prototypes are frozen by lockdown already.
    var seen = new Set();
    var pending = [root];
    while (pending.length) {
      var value = pending.pop();
      if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
      seen.add(value);
      Reflect.ownKeys(value).forEach(function (key) {
        var d = Object.getOwnPropertyDescriptor(value, key);
        if ("value" in d) pending.push(d.value);
        else pending.push(d.get, d.set);
      });
    }
    seen.forEach(function (value) { Object.freeze(value); });
  }

  function load() {
    if (made === null) {
      var globals = compile(source)();
      if (Object.isFrozen(objectPrototype)) freezeMade(globals);  // a context reused by later runs
      made = globals;
    }
    return made;
  }

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
