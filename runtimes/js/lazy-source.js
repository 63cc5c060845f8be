// The loader the lazily compiled parts share (intl-lazy.js, node-globals-lazy.js): the host puts a
// file's text in a global just before the parts; `__lazySource(name)` takes it off the global at once
// and returns a function that compiles it on first call and hands back what it returned. When the
// context's built-ins are frozen (lockdown in prelude.js), what the file made is frozen too, following
// own properties only (the shared built-ins it reaches through prototypes are frozen by lockdown
// already), so a run cannot leave a changed Intl or Buffer to the next run of a reused context.
// prelude.js takes `__lazySource` off the global.
"use strict";

globalThis.__lazySource = (function () {
  var compile = Function;
  var objectPrototype = Object.prototype;

  function freezeOwnGraph(root) {
    var seen = new Set();
    var pending = [root];
    while (pending.length) {
      var value = pending.pop();
      if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
      seen.add(value);
      Reflect.ownKeys(value).forEach(function (key) {
        var descriptor = Object.getOwnPropertyDescriptor(value, key);
        if ("value" in descriptor) pending.push(descriptor.value);
        else pending.push(descriptor.get, descriptor.set);
      });
    }
    seen.forEach(function (value) { Object.freeze(value); });
  }

  return function lazySource(globalName) {
    var source = globalThis[globalName];
    delete globalThis[globalName];
    var loaded = null;
    return function load() {
      if (loaded === null) {
        var made = compile(source)();
        if (Object.isFrozen(objectPrototype)) freezeOwnGraph(made);  // a context reused by later runs
        loaded = made;
      }
      return loaded;
    };
  };
})();
