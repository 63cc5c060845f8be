// Errors as V8 (Node 20, the real CloudRunner's engine) writes them.
//
// QuickJS words the errors it throws itself differently ("cannot read property 'x' of undefined"
// where V8 says "Cannot read properties of undefined (reading 'x')", "not a function" where V8 names
// the callee, "o.f is not a function"), and its `stack` lists only the frames, where V8's starts with
// the error's own "Name: message" line. Users see both: in a Try/Catch `message`, a Function's error,
// the history and the logs. QuickJS calls `Error.prepareStackTrace(error, callSites)` once when an
// error is made (never on runs that do not throw), after its message is set: there the message is
// reworded and the stack written in V8's shape, by error-words.js, compiled on a context's first error
// (the host puts its text in `__errorWordsSource` before this file). The callee's name is not in
// QuickJS's message, so it is read from the script's own source at the position of the throwing frame:
// the prelude registers every compiled script with `__noodlErrors.register`. JSON.parse's messages
// need the text parsed, and JSON.stringify's circle message the path to it: both are wrapped (the
// prelude keeps the originals for its own traffic).
// Loaded before prelude.js; the prelude takes `__noodlErrors` off the global at once.
"use strict";

globalThis.__noodlErrors = (function () {
  var source = globalThis.__errorWordsSource;
  delete globalThis.__errorWordsSource;
  var compile = Function;
  var MAX_UNITS = 1000;  // compiled scripts remembered per context (a context compiles at most ~500)
  var units = [];  // compiled script functions, newest last
  var words = null;
  var LimitError = typeof InternalError === "function" ? InternalError : null;
  var jsonParse = JSON.parse;
  var jsonFailure = null;  // [line, column] in the text of the last JSON.parse failure

  function register(fn) {
    units.push(fn);
    if (units.length > MAX_UNITS) units.shift();
  }

  function loaded() {
    if (words === null) words = compile(source)()(units);
    return words;
  }

  function parse(text, reviver) {
    try {
      return jsonParse(text, reviver);
    } catch (e) {
      var failure = jsonFailure;
      jsonFailure = null;
      if (failure !== null) loaded().json(e, text, failure);
      throw e;
    }
  }
  Object.defineProperty(JSON, "parse", { value: parse, writable: true, configurable: true });

  var jsonStringify = JSON.stringify;
  function stringify(value, replacer, space) {
    try {
      return jsonStringify(value, replacer, space);
    } catch (e) {
      if (e instanceof TypeError && e.message === "circular reference") loaded().circular(e, value);
      throw e;
    }
  }
  Object.defineProperty(JSON, "stringify", { value: stringify, writable: true, configurable: true });

  function prepareStackTrace(error, sites) {
    // The engine's own limits (out of memory, interrupted) pass untouched: near the memory limit any
    // allocation here could fail, and a limit must reach the host as itself.
    if (LimitError !== null && error instanceof LimitError) return undefined;
    var top = sites[0];
    if (top && !top.isNative() && !top.getFunctionName() && sites[1] && sites[1].isNative() &&
        sites[1].getFunctionName() === "parse") {
      jsonFailure = [top.getLineNumber(), top.getColumnNumber()];  // where in the text JSON.parse failed
    }
    return loaded().stack(error, sites);
  }

  // QuickJS keeps both settings in the context, behind accessors on Error. Set once here, the
  // accessors are then replaced by plain values (as Node shows them: no prepareStackTrace, a limit of
  // 10), which lockdown freezes: a script can no longer change how a later run's errors are written.
  Error.prepareStackTrace = prepareStackTrace;
  Error.stackTraceLimit = 10;
  Object.defineProperty(Error, "prepareStackTrace", { value: undefined, writable: true, configurable: true });
  Object.defineProperty(Error, "stackTraceLimit", { value: 10, writable: true, configurable: true });
  return { register: register, jsonParse: jsonParse, jsonStringify: jsonStringify };
})();
