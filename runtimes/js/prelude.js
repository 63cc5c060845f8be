// Prelude of the embedded JavaScript engine (QuickJS) that runs Expression and Function nodes.
//
// The engine cannot call back into Python while a time limit is set, so the bridge is message
// passing: Python calls in with JSON, scripts run, and what they did (output writes, signals, object
// changes, requests for host services such as Noodl.Records) is collected as "effects" that Python
// takes after the call. Host requests return promises that Python settles later via __noodl.settle.
// Nothing here can reach the file system or the network: QuickJS has neither without the host.
"use strict";

// The engine takes the functions it calls and removes the global (see lockdown): scripts never
// reach the bridge itself.
globalThis.__noodl = (function () {
  var MODEL_TAG = "__noodlModel";
  var runs = Object.create(null);
  var openRuns = 0;  // the runs in ``runs`` (isClean)
  var fns = Object.create(null);
  var syncFns = Object.create(null);
  var isModel = new WeakSet();
  // Until a first object proxy exists no value can hold one: encoding then needs no replacer, which
  // QuickJS would call for every key.
  var anyModelProxy = false;
  var AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
  // errors.js words engine errors as V8 does; it reads callee names from the scripts compiled here.
  var errorHooks = globalThis.__noodlErrors;
  delete globalThis.__noodlErrors;
  delete globalThis.__lazySource;  // lazy-source.js's loader, used by the lazily compiled parts
  var registerScript = errorHooks.register;
  // The bridge's own JSON: a script that replaces JSON's methods in its run does not see its traffic.
  var jsonParse = errorHooks.jsonParse;  // not errors.js's wrappers, which reword user errors
  var jsonStringify = errorHooks.jsonStringify;
  // The unguarded originals (see guardArrayLoops), for the bridge's own hot paths.
  var arraySlice = Array.prototype.slice;
  var arrayConcat = Array.prototype.concat;
  var arrayJoin = Array.prototype.join;
  var MATH_NAMES = ["min", "max", "cos", "sin", "tan", "sqrt", "pi", "round", "floor", "ceil", "abs", "random"];
  var MATH_VALUES = [Math.min, Math.max, Math.cos, Math.sin, Math.tan, Math.sqrt, Math.PI, Math.round,
    Math.floor, Math.ceil, Math.abs, Math.random];

  // These Array methods loop over indexes up to `length` in C, where QuickJS never checks the
  // time limit. On a sparse array or an array-like with a huge length, which costs no memory, one
  // call would hold the whole process for minutes. The engine passes a length no real array can
  // reach within the memory limit (and whose loop takes under a second); longer is refused.
  var LOOPING_ARRAY_METHODS = ["concat", "copyWithin", "fill", "flat", "flatMap", "join", "reverse", "shift",
    "slice", "sort", "splice", "toLocaleString", "unshift"];

  function guardArrayLoops(maxLength) {
    function check(name, value) {
      if (value === null || (typeof value !== "object" && typeof value !== "string")) return;
      var length = Number(value.length);
      if (length > maxLength) {
        throw new RangeError("Array.prototype." + name + " refused an array of length " + length +
          ": longer than any array that fits in the memory limit");
      }
    }
    function checkNestedArrays(name, array, depth) {
      // The arrays flat and flatMap walk, to `depth` levels below `array`.
      if (!(depth > 0) || !Array.isArray(array)) return;
      for (var i = 0; i < array.length; i++) {
        var item = array[i];
        if (Array.isArray(item)) {
          check(name, item);
          checkNestedArrays(name, item, depth - 1);
        }
      }
    }
    // Besides `this`, what a method also loops over: concat every spreadable argument, flat and
    // flatMap the nested arrays (flatMap's mapper results are left to the time limit).
    var CHECK_ARGUMENTS = {
      concat: function (target, args) {
        for (var i = 0; i < args.length; i++) {
          var arg = args[i];
          if (arg !== null && typeof arg === "object" && (Array.isArray(arg) || arg[Symbol.isConcatSpreadable])) {
            check("concat", arg);
          }
        }
      },
      flat: function (target, args) {
        checkNestedArrays("flat", target, args.length === 0 || args[0] === undefined ? 1 : Number(args[0]));
      },
      flatMap: function (target) {
        checkNestedArrays("flatMap", target, 1);
      },
    };
    LOOPING_ARRAY_METHODS.forEach(function (name) {
      var original = Array.prototype[name];
      // Own entries only: an inherited one (Object.prototype.toLocaleString) is no check.
      var checkArguments = Object.prototype.hasOwnProperty.call(CHECK_ARGUMENTS, name) ? CHECK_ARGUMENTS[name] : null;
      var guarded = {
        [name]: function () {
          if (this !== null && this !== undefined) check(name, Object(this));
          if (checkArguments) checkArguments(this, arguments);
          return Reflect.apply(original, this, arguments);
        },
      }[name];
      Object.defineProperty(guarded, "length", { value: original.length });
      Object.defineProperty(Array.prototype, name, { value: guarded, writable: true, configurable: true });
    });
  }

  // ---- reuse of a context by later runs -------------------------------------------------------------
  // Every run has a context no other run uses at the same time. A context goes on to a later run only
  // when the run before cannot have left anything in it: its built-ins and global bindings are frozen
  // (lockdown(true)), and after the run the global object has no property more (isClean). A run may
  // still add globals (declared or not) for itself; its context is then dropped instead of reused.
  // Runs of an export whose scripts look like they change built-ins get unfrozen contexts, used once.
  var globalBaseline = null;

  // Properties that ordinary code overrides by assignment on its own objects (`this.name = ...` in
  // an Error subclass, `obj.toString = ...`). Frozen as data properties, such assignments would fail
  // (the "override mistake"); as accessors they define the property on the object assigned to.
  var OVERRIDABLE = [
    [Object.prototype, ["constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
      "toLocaleString", "toString", "valueOf"]],
    [Function.prototype, ["toString"]],
    [Error.prototype, ["constructor", "message", "name", "toString"]],
  ];
  [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].forEach(function (E) {
    OVERRIDABLE.push([E.prototype, ["constructor", "message", "name"]]);
  });

  function makeOverridable(proto, key) {
    var d = Object.getOwnPropertyDescriptor(proto, key);
    if (!d || !("value" in d) || !d.configurable) return;
    var value = d.value;
    Object.defineProperty(proto, key, {
      get: function () { return value; },
      set: function (v) {
        if (this === proto) throw new TypeError("Cannot assign to '" + String(key) + "' of a shared built-in");
        if (this === null || (typeof this !== "object" && typeof this !== "function")) return;
        Object.defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  }

  function hiddenIntrinsics() {
    // Built-ins no global names, reachable through values scripts can make.
    var found = [];
    var strictArguments = (function () { "use strict"; return arguments; })();
    found.push(Object.getOwnPropertyDescriptor(strictArguments, "callee").get);
    [[][Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](), ""[Symbol.iterator](),
      /a/[Symbol.matchAll](""), (function* () {})(), (async function* () {})(), function* () {},
      async function* () {}, async function () {}, async () => {},
      Iterator.from({ next: function () { return { done: true }; } }),
      [].values().map(function (x) { return x; })].forEach(function (value) {
      found.push(Object.getPrototypeOf(value));
      if (typeof value === "function") found.push(value.constructor);
    });
    return found;
  }

  function lockdown(freeze) {
    delete globalThis.__noodl;
    if (!freeze) return;
    freezeBuiltins();
    // The global bindings there are stay as they are (a run may still add its own globals), so a
    // reused context is clean when nothing was added: checking that is cheap (isClean).
    Reflect.ownKeys(globalThis).forEach(function (key) {
      var d = Object.getOwnPropertyDescriptor(globalThis, key);
      if ("value" in d) Object.defineProperty(globalThis, key, { writable: false, configurable: false });
      else Object.defineProperty(globalThis, key, { configurable: false });
    });
    globalBaseline = [Reflect.ownKeys(globalThis).length, Object.getPrototypeOf(globalThis)];
  }

  function freezeBuiltins() {
    OVERRIDABLE.forEach(function (entry) {
      entry[1].forEach(function (key) { makeOverridable(entry[0], key); });
    });
    var seen = new Set();
    var pending = [];
    function reach(value) {
      if (value === globalThis || value === null || (typeof value !== "object" && typeof value !== "function")) return;
      if (!seen.has(value)) { seen.add(value); pending.push(value); }
    }
    Reflect.ownKeys(globalThis).forEach(function (key) {
      var d = Object.getOwnPropertyDescriptor(globalThis, key);
      reach(d.value); reach(d.get); reach(d.set);
    });
    hiddenIntrinsics().forEach(reach);
    while (pending.length) {
      var object = pending.pop();
      reach(Object.getPrototypeOf(object));
      Reflect.ownKeys(object).forEach(function (key) {
        var d = Object.getOwnPropertyDescriptor(object, key);
        reach(d.value); reach(d.get); reach(d.set);
      });
    }
    seen.forEach(function (object) { Object.freeze(object); });
  }

  // Whether the context is as lockdown left it: no run state, no global added, nothing reshaped.
  function isClean() {
    if (globalBaseline === null || openRuns !== 0) return false;
    return Reflect.ownKeys(globalThis).length === globalBaseline[0] &&
      Object.getPrototypeOf(globalThis) === globalBaseline[1] && Object.isExtensible(globalThis);
  }

  function frozenFunction(fn) {
    // A compiled script outlives its run in a reused context: a sloppy script reaches itself through
    // arguments.callee, so neither it nor its prototype object may keep what a run puts there.
    if (fn.prototype) Object.freeze(fn.prototype);
    registerScript(fn);
    return Object.freeze(fn);
  }

  // Text for Python with a one-letter tag before it. Joined, not concatenated with +: QuickJS may keep
  // a long concatenation as a rope string, which the binding cannot return (a TypeError in Python).
  function tagged(tag, text) {
    return arrayJoin.call([tag, text], "");
  }

  function encode(value) {
    if (value === undefined) return "";
    if (typeof value === "number" && !isFinite(value)) return String(value);
    if (typeof value === "function" || typeof value === "symbol") return "";
    if (!anyModelProxy) return jsonStringify(value);
    return jsonStringify(value, function (key, v) {
      // The holder still has the original: an object's toJSON has already replaced v by its data.
      var original = this[key];
      if (original !== null && typeof original === "object" && isModel.has(original)) {
        var tag = {};
        tag[MODEL_TAG] = original.id;
        return tag;
      }
      return v;
    });
  }

  var NUMBER_TAG = "__noodlNumber";  // {__noodlNumber: "NaN"}: a number JSON cannot write
  var NON_FINITE = { "NaN": NaN, "Infinity": Infinity, "-Infinity": -Infinity };

  function decode(run, text) {
    if (text.indexOf(MODEL_TAG) < 0 && text.indexOf(NUMBER_TAG) < 0) return jsonParse(text);  // nothing to revive
    return jsonParse(text, function (key, v) {
      if (v !== null && typeof v === "object" && Object.keys(v).length === 1) {
        if (typeof v[MODEL_TAG] === "string") return modelProxy(run, v[MODEL_TAG]);
        if (NON_FINITE.hasOwnProperty(v[NUMBER_TAG])) return NON_FINITE[v[NUMBER_TAG]];
      }
      return v;
    });
  }

  function modelData(run, id) {
    var data = run.models[id];
    if (data === undefined) {
      data = run.models[id] = {};
      run.changedModels[id] = true;
    }
    return data;
  }

  // Noodl's Model.setAll and Model.fill: every key but the id.
  function setAll(run, id, values) {
    var data = modelData(run, id);
    for (var key in values) if (key !== "id") data[key] = values[key];
    run.changedModels[id] = true;
  }

  function fillModel(run, id, value) {
    var data = modelData(run, id);
    for (var key in data) if (key !== "id") data[key] = value;
    run.changedModels[id] = true;
  }

  // A new object's id: ten letters and digits, as Noodl's Model.guid makes them.
  var ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  function newObjectId() {
    var text = "";
    for (var i = 0; i < 10; i++) text += ID_CHARS[Math.floor(Math.random() * ID_CHARS.length)];
    return text;
  }

  function modelProxy(run, id) {
    var proxies = run.proxies || (run.proxies = Object.create(null));
    var cached = proxies[id];
    if (cached) return cached;
    var proxy = new Proxy({}, {
      get: function (target, key) {
        if (key === "id" || key === "getId") return key === "id" ? id : function () { return id; };
        if (key === "toJSON") return function () { return Object.assign({}, modelData(run, id), { id: id }); };
        if (key === "get") return function (k) { return modelData(run, id)[k]; };
        if (key === "set") return function (k, v) { modelData(run, id)[k] = v; run.changedModels[id] = true; };
        if (key === "setAll") return function (values) { setAll(run, id, values); };
        if (key === "fill") return function (v) { fillModel(run, id, v === undefined ? null : v); };
        if (key === "data") return modelData(run, id);
        return modelData(run, id)[key];
      },
      set: function (target, key, value) {
        if (key === "id") return true;  // an object's id is read-only (Noodl warns and keeps it)
        modelData(run, id)[key] = value;
        run.changedModels[id] = true;
        return true;
      },
      has: function (target, key) { return key in modelData(run, id); },
      ownKeys: function () { return Reflect.ownKeys(modelData(run, id)); },
      getOwnPropertyDescriptor: function (target, key) {
        var data = modelData(run, id);
        if (!(key in data)) return undefined;
        return { value: data[key], writable: true, enumerable: true, configurable: true };
      },
    });
    isModel.add(proxy);
    anyModelProxy = true;
    proxies[id] = proxy;
    return proxy;
  }

  function schemaOf(run, collection) {
    var metadata = runMetadata(run);
    var lists = [metadata.dbCollections || [], metadata.systemCollections || []];
    for (var i = 0; i < lists.length; i++) {
      for (var j = 0; j < lists[i].length; j++) {
        var entry = lists[i][j];
        if (entry && entry.name === collection) return (entry.schema && entry.schema.properties) || {};
      }
    }
    return {};
  }

  function filterValue(v) {
    return v instanceof Date ? { __type: "Date", iso: v.toISOString() } : v;
  }

  // Noodl's filter language (equalTo, containedIn, and/or, ...) → a Parse where clause.
  var SIMPLE_OPS = { equalTo: "$eq", notEqualTo: "$ne", lessThan: "$lt", greaterThan: "$gt",
    lessThanOrEqualTo: "$lte", greaterThanOrEqualTo: "$gte" };

  function convertFilter(filter, schema, errors) {
    var keys = Object.keys(filter || {});
    if (keys.length === 0) return {};
    if (keys.length !== 1) { errors.push("Filter must only have one key found " + keys.join(",")); return {}; }
    var key = keys[0];
    var spec = filter[key];
    var res = {};
    if (key === "and" && Array.isArray(spec)) {
      res.$and = spec.map(function (f) { return convertFilter(f, schema, errors); });
    } else if (key === "or" && Array.isArray(spec)) {
      res.$or = spec.map(function (f) { return convertFilter(f, schema, errors); });
    } else if (key === "idEqualTo") {
      res.objectId = { $eq: spec };
    } else if (key === "idContainedIn") {
      res.objectId = { $in: spec };
    } else if (key === "relatedTo") {
      res.$relatedTo = { object: { __type: "Pointer", objectId: spec.id, className: spec.className }, key: spec.key };
    } else if (spec !== null && typeof spec === "object") {
      var prop = schema[key] || {};
      var op = Object.keys(SIMPLE_OPS).find(function (name) { return spec[name] !== undefined; });
      if (op) res[key] = {}, res[key][SIMPLE_OPS[op]] = filterValue(spec[op]);
      else if (spec.exists !== undefined) res[key] = { $exists: spec.exists };
      else if (spec.containedIn !== undefined) res[key] = { $in: spec.containedIn };
      else if (spec.notContainedIn !== undefined) res[key] = { $nin: spec.notContainedIn };
      else if (spec.pointsTo !== undefined) {
        var pointer = function (id) { return { __type: "Pointer", objectId: id, className: prop.targetClass }; };
        if (prop.type === "Relation") res[key] = pointer(spec.pointsTo);
        else if (Array.isArray(spec.pointsTo)) res[key] = { $in: spec.pointsTo.map(pointer) };
        else res[key] = { $eq: pointer(spec.pointsTo) };
      } else if (spec.matchesRegex !== undefined) res[key] = { $regex: spec.matchesRegex, $options: spec.options };
      else if (spec.text !== undefined && spec.text.search !== undefined) {
        var t = spec.text.search;
        res[key] = { $text: { $search: typeof t === "string" ? { $term: t, $caseSensitive: false } : {
          $term: t.term, $language: t.language, $caseSensitive: t.caseSensitive,
          $diacriticSensitive: t.diacriticSensitive } } };
      } else errors.push("Unrecognized filter keys " + Object.keys(spec).join(","));
    } else {
      errors.push("Unrecognized filter keys " + keys.join(","));
    }
    return res;
  }

  // A limit hit inside an async script surfaces as a rejection; report it apart from user errors.
  // QuickJS throws null when it cannot even allocate its "out of memory" error (a script filling
  // memory with small objects), and by then the script's memory is freed, so nothing tells that null
  // from a script's own `throw null`. A null is taken for the memory limit unless the node's script
  // could throw or reject it itself (its text says `throw` or `reject`): then it is an ordinary error.
  var userNullFns = Object.create(null);  // fnId → its script could throw or reject null itself
  var userNullNodes = Object.create(null);  // nodeKey → the script the node last ran could
  function describeError(nodeKey, e) {
    if (e === null && !userNullNodes[nodeKey]) return ["limit", nodeKey, "out of memory"];
    var internal = typeof InternalError !== "undefined" && e instanceof InternalError;
    if (internal && (e.message === "interrupted" || e.message === "out of memory")) return ["limit", nodeKey, e.message];
    // An engine error without even its message was made as memory ran out (errors.js's stack writer
    // runs while it is made, and can leave it so).
    if (internal && !Object.prototype.hasOwnProperty.call(e, "message")) return ["limit", nodeKey, "out of memory"];
    // The whole text (for logs and the history), and the error's own message (for Try/Catch's `message`).
    var text = errorText(e);
    var message = e !== null && typeof e === "object" && typeof e.message === "string" ? e.message : String(e);
    return ["error", nodeKey, text, message];
  }

  // An error as Node prints it: its stack, which starts with "Name: message" (errors.js writes it so),
  // or that line before a stack of frames only (an error whose stack a script replaced).
  function errorText(e) {
    var head = String(e);
    var stack = e !== null && typeof e === "object" ? e.stack : undefined;
    if (typeof stack !== "string" || stack === "") return head;
    return stack.indexOf(head) === 0 ? stack : head + "\n" + stack;
  }

  // ---- console -----------------------------------------------------------------------------------------
  // Each console call becomes a log line of the step that made it: ["log", nodeKey, level, timeMs, text]
  // among the run's effects. A Function gets a console of its own node as a parameter (so lines after an
  // await still name it); the global console serves Expressions and other scripts, whose lines wait in
  // looseLogs for the engine to take after the call. At most MAX_LOG_LINES lines per run, each at most
  // MAX_LOG_CHARS characters; the count lives in the context, which serves one run at a time, and is
  // reset when the run closes.
  var MAX_LOG_LINES = 100;
  var MAX_LOG_CHARS = 2048;
  var logCount = 0;
  var looseLogs = [];

  function inspect(value) {
    if (typeof value === "string") return value;
    if (value === undefined) return "undefined";
    if (typeof value === "function") return "[Function: " + (value.name || "(anonymous)") + "]";
    if (typeof value === "symbol" || typeof value === "bigint") return String(value);
    if (value instanceof Error) return errorText(value);
    if (value === null || typeof value !== "object") return String(value);
    try {
      var text = jsonStringify(value);
      return text === undefined ? String(value) : text;
    } catch (e) {
      return Array.isArray(value) ? "[Array]" : "[Object]";  // circular or a throwing toJSON
    }
  }

  // Node's util.format for the common cases: %s %d %i %f %j %o %O %% in a leading string, then the
  // rest of the arguments separated by spaces; strings as they are, other values as JSON.
  function formatLog(args) {
    var first = args[0];
    var rest = 1;
    var text = "";
    if (typeof first === "string" && first.indexOf("%") >= 0) {
      text = first.replace(/%([sdifjoO%])/g, function (match, kind) {
        if (kind === "%") return "%";
        if (rest >= args.length) return match;
        var arg = args[rest++];
        if (kind === "s") return typeof arg === "string" ? arg : inspect(arg);
        if (kind === "d") return typeof arg === "object" && arg !== null ? "NaN" : String(Number(arg));
        if (kind === "i") return String(parseInt(arg, 10));
        if (kind === "f") return String(parseFloat(arg));
        return inspect(arg);
      });
    } else if (args.length) {
      text = inspect(first);
    }
    for (var i = rest; i < args.length; i++) text += " " + inspect(args[i]);
    return text;
  }

  function logLine(level, args) {
    // The line, or null once the run has had its share of lines.
    logCount++;
    if (logCount > MAX_LOG_LINES + 1) return null;
    if (logCount === MAX_LOG_LINES + 1) {
      return ["warn", Date.now(), "console: more lines were dropped (at most " + MAX_LOG_LINES + " per run)"];
    }
    var text;
    try {
      text = formatLog(args);
    } catch (e) {
      text = "[a value that cannot be shown]";
    }
    if (text.length > MAX_LOG_CHARS) text = text.substring(0, MAX_LOG_CHARS - 1) + "\u2026";
    return [level === "log" ? "info" : level, Date.now(), text];
  }

  function makeConsole(emit) {
    // One literal (log, info, warn, error, debug, trace): every Function node's first call in a run makes one.
    function method(level) {
      return function () {
        var line = logLine(level, arraySlice.call(arguments));
        if (line !== null) emit(line);
      };
    }
    var debug = method("debug");
    return { log: method("log"), info: method("info"), warn: method("warn"), error: method("error"), debug: debug,
      trace: debug };
  }

  // A node's console is the same for every run the context serves (its lines go to the run being
  // served, activeRun): made once per context and node key, not per run. Frozen, with its methods, so
  // that nothing a run puts on it reaches a later run (the global console is frozen by lockdown too).
  var MAX_CACHED_PER_NODE = 1000;
  var nodeConsoles = Object.create(null);
  var nodeConsoleCount = 0;

  function nodeConsole(nodeKey) {
    var cached = nodeConsoles[nodeKey];
    if (cached !== undefined) return cached;
    var made = makeConsole(function (line) {
      if (activeRun !== null) activeRun.effects.push(["log", nodeKey, line[0], line[1], line[2]]);
    });
    Object.keys(made).forEach(function (level) { frozenFunction(made[level]); });
    Object.freeze(made);
    if (nodeConsoleCount < MAX_CACHED_PER_NODE) {
      nodeConsoles[nodeKey] = made;
      nodeConsoleCount++;
    }
    return made;
  }

  // Scripts without a console of their own (Expressions, REST and filter scripts, array inputs).
  // Not enumerable, as in Node (Object.keys(globalThis) lists no console there).
  Object.defineProperty(globalThis, "console", { value: makeConsole(function (line) { looseLogs.push(line); }),
    writable: true, configurable: true, enumerable: false });

  function withLooseLogs(result) {
    // A result with the lines logged while computing it, for the engine to pass on.
    var lines = looseLogs;
    looseLogs = [];
    return tagged("L", jsonStringify([lines, result]));
  }

  // ---- timers ------------------------------------------------------------------------------------------
  // setTimeout and setInterval keep the callback in the run's state and ask Python for a timer on the
  // event loop (["timer", id, ms]); when it fires, Python calls fireTimer through the same path that
  // settles host calls, so promise jobs after it run too. Clearing sends ["cleartimer", id]. The run's
  // timers go with runs[id] when it closes (Python cancels its handles then), so a reused context
  // keeps none. A context serves one run at a time: activeRun is that run once it has opened.
  var MAX_TIMERS = 10000;
  var activeRun = null;

  function timerRun(name) {
    if (activeRun === null) throw new Error(name + " is only available in Function code of a run");
    return activeRun;
  }

  function addTimer(name, callback, delay, args, repeat) {
    var run = timerRun(name);
    if (typeof callback !== "function") throw new TypeError("The callback of " + name + " must be a function");
    if (run.timerCount >= MAX_TIMERS) throw new RangeError(name + ": more than " + MAX_TIMERS + " timers pending");
    var ms = Math.floor(Number(delay));
    if (!(ms >= 1 && ms <= 2147483647)) ms = 1;  // as Node: out of range or not a number waits 1 ms
    var id = ++run.nextTimerId;
    (run.timers || (run.timers = Object.create(null)))[id] = { callback: callback, args: args, ms: ms, repeat: repeat, node: run.currentNode };
    run.timerCount++;
    run.effects.push(["timer", id, ms]);
    return id;
  }

  function clearTimer(id) {
    var run = activeRun;
    if (run === null || typeof id !== "number" || run.timers === null || !run.timers[id]) return;
    delete run.timers[id];
    run.timerCount--;
    run.effects.push(["cleartimer", id]);
  }

  globalThis.setTimeout = function setTimeout(callback, delay) {
    return addTimer("setTimeout", callback, delay, arraySlice.call(arguments, 2), false);
  };
  globalThis.setInterval = function setInterval(callback, delay) {
    return addTimer("setInterval", callback, delay, arraySlice.call(arguments, 2), true);
  };
  globalThis.clearTimeout = function clearTimeout(id) { clearTimer(id); };
  globalThis.clearInterval = function clearInterval(id) { clearTimer(id); };
  globalThis.queueMicrotask = function queueMicrotask(callback) {
    if (typeof callback !== "function") throw new TypeError("The callback of queueMicrotask must be a function");
    var run = activeRun;
    var node = run === null ? null : run.currentNode;
    Promise.resolve().then(function () { callback(); }).catch(function (e) {
      if (run !== null && node !== null) run.effects.push(describeError(node, e));
    });
  };

  function fireTimer(run, id) {
    var timer = run.timers !== null ? run.timers[id] : undefined;
    if (!timer) return;
    if (timer.repeat) {
      run.effects.push(["timer", id, timer.ms]);
    } else {
      delete run.timers[id];
      run.timerCount--;
    }
    var before = run.currentNode;
    run.currentNode = timer.node;
    try {
      timer.callback.apply(undefined, timer.args);
    } catch (e) {
      if (timer.node !== null) run.effects.push(describeError(timer.node, e));
    } finally {
      run.currentNode = before;
    }
  }

  // ---- fetch ---------------------------------------------------------------------------------------------
  // As Node 20's fetch for what scripts use: the request goes to Python as ["host", id, "fetch",
  // [method, url, headers, body]] and is sent with the backend's HTTP client as a task of the run
  // (cancelled with it); the answer becomes a Response (runtimes/js/web.js). A failed request rejects
  // with TypeError("fetch failed") and the reason as its cause, as undici does.
  var ResponseFromHost = globalThis.Response.__fromHost;
  var bodyText = globalThis.Response.__bodyText;
  var HeadersClass = globalThis.Headers;
  var FETCH_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

  function fetchRequest(input, init) {
    var options = init === undefined || init === null ? {} : Object(init);
    var source = input !== null && typeof input === "object" && typeof input.url === "string" ? input : null;
    var url = (source ? source.url : String(input)).trim();
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/*[^\s\/]/.test(url) || /\s/.test(url)) {
      throw new TypeError("Failed to parse URL from " + url);
    }
    var method = options.method !== undefined ? String(options.method) : source && source.method ? String(source.method) : "GET";
    if (FETCH_METHODS.indexOf(method.toUpperCase()) >= 0 && method.toUpperCase() !== "PATCH") method = method.toUpperCase();
    if (/^(CONNECT|TRACE|TRACK)$/i.test(method)) throw new TypeError("'" + method + "' HTTP method is unsupported.");
    var headers = new HeadersClass(options.headers !== undefined ? options.headers : source ? source.headers : undefined);
    var body = bodyText(options.body !== undefined ? options.body : source ? source.body : undefined);
    if (body !== null) {
      if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body.");
      if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    }
    var pairs = [];
    headers.forEach(function (value, name) { pairs.push([name, value]); });
    return [method, url, pairs, body];
  }

  function failedFetch(reason) {
    var failure = new TypeError("fetch failed");
    failure.cause = reason;
    return failure;
  }

  globalThis.fetch = function fetch(input, init) {
    var run = activeRun;
    var request;
    try {
      if (run === null) throw new Error("fetch is only available in Function code of a run");
      request = fetchRequest(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!/^https?:/i.test(request[1])) return Promise.reject(failedFetch(new Error("unknown scheme")));
    return hostCall(run, "fetch", request).then(ResponseFromHost, function (e) { throw failedFetch(e); });
  };

  function hostCall(run, op, args) {
    return new Promise(function (resolve, reject) {
      var callId = ++run.nextCallId;
      (run.pending || (run.pending = Object.create(null)))[callId] = { resolve: resolve, reject: reject };
      run.effects.push(["host", callId, op, encode(args)]);
    });
  }

  function makeRecords(run) {
    function records(op) {
      return function (collection, a, b) { return hostCall(run, "records." + op, [collection, a, b]); };
    }
    function filtered(op) {
      return function (collection, filter, options) {
        var errors = [];
        var where = convertFilter(filter, schemaOf(run, collection), errors);
        if (errors.length) return Promise.reject(new Error(errors[0]));
        return hostCall(run, "records." + op, [collection, where, options || {}]);
      };
    }
    return {
      query: filtered("query"),
      fetch: function (idOrRecord, options) {
        var id = typeof idOrRecord === "string" ? idOrRecord : idOrRecord && idOrRecord.id;
        var collection = (options && options.collection) || undefined;
        return hostCall(run, "records.fetch", [collection, id, options || {}]);
      },
      count: filtered("count"),
      create: records("create"),
      save: records("save"),
      delete: records("delete"),
      distinct: function (collection, property, filter) {
        var errors = [];
        var where = convertFilter(filter, schemaOf(run, collection), errors);
        if (errors.length) return Promise.reject(new Error(errors[0]));
        return hostCall(run, "records.distinct", [collection, property, where]);
      },
      aggregate: records("aggregate"),
      increment: records("increment"),
      addRelation: function (options) { return hostCall(run, "records.addRelation", [options]); },
      removeRelation: function (options) { return hostCall(run, "records.removeRelation", [options]); },
    };
  }

  // The cloud Noodl API of one run; parts are built on first use (most scripts touch one or two).
  function makeNoodl(run) {
    var objects, object, records;
    return {
      get Objects() {
        return objects || (objects = new Proxy({}, {
          get: function (target, id) { return typeof id === "string" ? modelProxy(run, id) : undefined; },
        }));
      },
      get Object() {
        return object || (object = {
          get: function (id) { return modelProxy(run, String(id)); },
          create: function (data) {
            var id = (data && data.id) || newObjectId();
            var proxy = modelProxy(run, id);
            var target = modelData(run, id);
            // The id is the object's, not one of its properties (Object.keys leaves it out; JSON puts it last).
            Object.keys(data || {}).forEach(function (key) { if (key !== "id") target[key] = data[key]; });
            run.changedModels[id] = true;
            return proxy;
          },
          exists: function (id) { return run.models[id] !== undefined; },
        });
      },
      get Variables() { return modelProxy(run, "--ndl--global-variables"); },
      get Records() { return records || (records = makeRecords(run)); },
      Users: { get Current() { return run.user; } },
      Files: {
        upload: function () { return Promise.reject(new Error("Noodl.Files is not available in cloud functions")); },
      },
      getMetaData: function (key) { return key === undefined ? runMetadata(run) : runMetadata(run)[key]; },
      getProjectSettings: function () { return runSettings(run); },
    };
  }

  function takeLooseLogs(run, nodeKey) {
    // Lines of the global console become log effects of ``nodeKey`` (null: no node known).
    for (var i = 0; i < looseLogs.length; i++) {
      var line = looseLogs[i];
      run.effects.push(["log", nodeKey, line[0], line[1], line[2]]);
    }
    looseLogs = [];
  }

  // ---- shared objects --------------------------------------------------------------------------------
  // In the real runner nodes hand each other the same objects: a Function that changes an object input
  // in place changes it for every node holding it (the Response included). Inputs reach a script as
  // copies, so the object inputs of each call are watched: when one's JSON has changed by the time
  // effects are taken, ["mutate", node, input, json] asks Python to change its object in place.
  // Bounded per run (count and size), so a loop over big inputs does not re-encode without end.
  var MAX_WATCHED_INPUTS = 100;
  var MAX_WATCHED_JSON = 1 << 20;
  var mutatingFns = Object.create(null);  // fnId → its script may change an object in place
  // A change in place needs one of these in the script's text: a member assignment (after the usual
  // `Outputs.x = …` are set aside), ++/--, `delete`, a mutating Array method, Object.assign and kin.
  // Scripts without any (most) have their inputs left unwatched: encoding them costs time every call.
  var MUTATING_TEXT = new RegExp(
    "\\.\\s*(push|pop|shift|unshift|splice|sort|reverse|fill|copyWithin)\\s*\\(|\\bdelete\\b|" +
    "\\bObject\\s*\\.\\s*(assign|defineProperty|defineProperties|setPrototypeOf)\\b|\\bReflect\\s*\\.|" +
    "(\\]|\\.\\s*[A-Za-z_$][\\w$]*)\\s*(=(?!=)|[-+*/%&|^]=|\\*\\*=|<<=|>>>?=|&&=|\\|\\|=|\\?\\?=|\\+\\+|--)");

  function mayChangeObjects(script) {
    return MUTATING_TEXT.test(script.replace(/\bOutputs\s*\.\s*[A-Za-z_$][\w$]*\s*=(?!=)/g, ""));
  }

  function watchInputs(run, nodeKey, inputs) {
    for (var key in inputs) {
      var value = inputs[key];
      if (value === null || typeof value !== "object" || isModel.has(value)) continue;
      if (run.watched.length >= MAX_WATCHED_INPUTS) return;
      var json = encode(value);
      if (json.length <= MAX_WATCHED_JSON) run.watched.push({ node: nodeKey, key: key, value: value, json: json });
    }
  }

  function changedInputs(run) {
    var changes = [];
    for (var i = 0; i < run.watched.length; i++) {
      var entry = run.watched[i];
      var json = encode(entry.value);
      if (json !== entry.json) {
        entry.json = json;
        changes.push(["mutate", entry.node, entry.key, json]);
      }
    }
    return changes;
  }

  function takeEffects(run, late) {
    if (looseLogs.length) takeLooseLogs(run, null);
    if (run.watched.length) {
      // Changes first: the script made them before the signals that tell other nodes to look.
      var changes = changedInputs(run);
      if (changes.length) run.effects = changes.concat(run.effects);
    }
    var changed = null;
    for (var modelId in run.changedModels) {
      if (changed === null) changed = {};
      changed[modelId] = run.models[modelId];
    }
    if (changed !== null) run.changedModels = Object.create(null);
    var effects = run.effects;
    run.effects = [];
    // Effects hold only primitives and text already encoded, never an object reference: they need
    // no replacer (which QuickJS calls for every key once any object proxy exists); models may.
    // Joined, not concatenated with +: QuickJS may keep a long concatenation as a rope string,
    // which the binding cannot hand to Python.
    var parts = ['{"effects":', effects.length ? jsonStringify(effects) : "[]", ',"models":',
      changed === null ? "{}" : encode(changed)];
    if (late && late.length) parts.push(',"late":', jsonStringify(late));
    parts.push("}");
    return arrayJoin.call(parts, "");
  }

  // A run's settings and metadata arrive as JSON text and are parsed when a script first asks: most
  // runs never do, and parsing them costs every run.
  function runSettings(run) {
    if (run.settings === undefined) run.settings = jsonParse(run.settingsJson);
    return run.settings;
  }

  function runMetadata(run) {
    if (run.metadata === undefined) run.metadata = jsonParse(run.metadataJson);
    return run.metadata;
  }

  // A node's signal names arrive as the same JSON text on every call: parsed once per context (frozen
  // arrays of strings, nothing of a run in them), bounded so odd callers cannot grow it without end.
  var MAX_SIGNAL_LISTS = 1000;
  var signalLists = Object.create(null);
  var signalListCount = 0;

  function signalList(signalsJson) {
    var list = signalLists[signalsJson];
    if (list === undefined) {
      list = Object.freeze(jsonParse(signalsJson));
      if (signalListCount < MAX_SIGNAL_LISTS) {
        signalLists[signalsJson] = list;
        signalListCount++;
      }
    }
    return list;
  }

  // A node's Outputs object. Like its console it is the same for every run the context serves (writes
  // go to activeRun), so it is made once per context, node key and signal list; frozen, with its signal
  // functions (arrows: no prototype to write on), so that nothing a run puts on it stays.
  var nodeOutputs = Object.create(null);
  var nodeOutputsCount = 0;

  function outputsOf(nodeKey, signalsJson) {
    var cacheKey = nodeKey + "\n" + signalsJson;
    var cached = nodeOutputs[cacheKey];
    if (cached !== undefined) return cached;
    var made = makeOutputs(nodeKey, signalList(signalsJson));
    if (nodeOutputsCount < MAX_CACHED_PER_NODE) {
      nodeOutputs[cacheKey] = made;
      nodeOutputsCount++;
    }
    return made;
  }

  function makeOutputs(nodeKey, signals) {
    var target = {};
    signals.forEach(function (name) {
      target[name] = Object.freeze(() => {
        if (activeRun !== null) activeRun.effects.push(["signal", nodeKey, name]);
      });
    });
    return new Proxy(Object.freeze(target), {
      set: function (t, name, value) {
        var run = activeRun;
        if (run === null) return true;
        if (typeof t[name] === "function" && signals.indexOf(name) >= 0) return true;
        var previous = run.outputs[nodeKey] || (run.outputs[nodeKey] = Object.create(null));
        if (previous[name] !== value) {
          previous[name] = value;
          // A JSON primitive travels as itself inside the effects' JSON ("put"): Python decodes it
          // with them, not as JSON text of its own.
          var kind = typeof value;
          if (value === null || kind === "string" || kind === "boolean" || (kind === "number" && isFinite(value))) {
            run.effects.push(["put", nodeKey, name, value]);
          } else {
            run.effects.push(["set", nodeKey, name, encode(value)]);
          }
        }
        return true;
      },
    });
  }

  // Objects Python changed (or made) since the run's last call, mirrored into its state.
  function syncModels(run, modelsJson) {
    var incoming = decode(run, modelsJson);
    for (var modelId in incoming) {
      // Assign into the existing object so proxies already handed to scripts stay live.
      var data = run.models[modelId] || (run.models[modelId] = {});
      Object.assign(data, incoming[modelId]);
    }
  }

  // A run's state, made by its first call (Python passes the settings and metadata text to the first
  // call only); the parts few runs use are made when first used.
  function openRun(id, settingsJson, metadataJson) {
    var run = runs[id] = {
      id: id, models: Object.create(null), proxies: null, changedModels: Object.create(null),
      outputs: Object.create(null), pending: null, effects: [], nextCallId: 0,
      nextObjectId: 0, settingsJson: settingsJson, metadataJson: metadataJson, settings: undefined,
      metadata: undefined,
      user: undefined, noodl: null, component: {},
      timers: null, nextTimerId: 0, timerCount: 0, currentNode: null, calls: null,
      watched: [],
    };
    openRuns++;
    activeRun = run;
    return run;
  }

  return {
    openRun: openRun,
    closeRun: function (id) {
      // Whether the context may go on to a later run (see isClean).
      if (activeRun === runs[id]) activeRun = null;
      if (runs[id] !== undefined) openRuns--;
      delete runs[id];  // its pending timers with it
      logCount = 0;
      looseLogs = [];
      if (openRuns === 0) anyModelProxy = false;
      return isClean();
    },
    syncModels: function (id, modelsJson, settingsJson, metadataJson) {
      syncModels(runs[id] || openRun(id, settingsJson, metadataJson), modelsJson);
    },
    compileExpression: function (fnId, paramsJson, body) {
      fns[fnId] = frozenFunction(Function.apply(null, MATH_NAMES.concat(jsonParse(paramsJson)).concat(["return (" + body + ");"])));
    },
    callExpressionDirect: function (fnId) {
      // Arguments arrive as JS primitives; the result comes back tagged so Python can tell
      // undefined from null and a string from encoded JSON without parsing primitives.
      var args = arraySlice.call(arguments, 1);
      var r = fns[fnId].apply(null, arrayConcat.call(MATH_VALUES, args));
      if (looseLogs.length) return withLooseLogs(encode(r));
      if (r === null || typeof r === "number" || typeof r === "boolean") return r;
      // The binding ends a returned string at its first NUL: such a string travels as JSON.
      if (typeof r === "string") return r.indexOf("\u0000") < 0 ? tagged("s", r) : tagged("j", encode(r));
      return tagged("j", encode(r));
    },
    evalArrayLiteral: function (source) {
      // A string at an array input: evaluated as JavaScript, as the real runner does (see
      // docs/runtime-javascript.md), but in this run's own context and without the node's scope.
      var fn = Function.apply(null, MATH_NAMES.concat(["return (" + source + ");"]));
      return encode(fn.apply(null, MATH_VALUES));
    },
    callExpression: function (fnId, argsJson) {
      var args = jsonParse(argsJson);
      var result = encode(fns[fnId].apply(null, arrayConcat.call(MATH_VALUES, args)));
      return looseLogs.length ? withLooseLogs(result) : result;
    },
    compileFunction: function (fnId, script, sync) {
      // A script that can neither await nor start promise jobs finishes in its synchronous part: as a
      // plain function it leaves nothing for the frame's end to run (see jsengine.compile_function).
      var Kind = sync ? Function : AsyncFunction;
      // `console` is a parameter: each node's script gets a console that names the node.
      fns[fnId] = frozenFunction(new Kind("Inputs", "Outputs", "Noodl", "Component", "console", script));
      if (sync) syncFns[fnId] = true;
      if (mayChangeObjects(script)) mutatingFns[fnId] = true;
      if (/\b(?:throw|reject)\b/.test(script)) userNullFns[fnId] = true;
    },
    runFunction: function (id, fnId, nodeKey, inputsJson, signalsJson, usesNoodl, modelsJson, settingsJson,
      metadataJson) {
      // Opens the run on its first call, and mirrors objects Python changed since the last (see jsengine).
      var run = runs[id] || openRun(id, settingsJson, metadataJson);
      if (modelsJson) syncModels(run, modelsJson);
      if (usesNoodl && !run.noodl) run.noodl = makeNoodl(run);
      var inputs = decode(run, inputsJson);
      if (mutatingFns[fnId]) watchInputs(run, nodeKey, inputs);
      if (userNullFns[fnId] !== userNullNodes[nodeKey]) userNullNodes[nodeKey] = userNullFns[fnId];
      var outputs = outputsOf(nodeKey, signalsJson);
      run.currentNode = nodeKey;  // the node whose timers the script starts
      if (syncFns[fnId]) {
        // A throw is reported when the frame ends, as the async function's rejection would be.
        var late = [];
        try {
          fns[fnId](inputs, outputs, run.noodl, run.component, nodeConsole(nodeKey));
        } catch (e) {
          late.push(describeError(nodeKey, e));
        }
        return takeEffects(run, late);
      }
      // ["done", nodeKey, n] when the n-th call of the node's script has finished (its step ends then).
      var calls = run.calls || (run.calls = Object.create(null));
      var call = calls[nodeKey] = (calls[nodeKey] || 0) + 1;
      var finished = function () { run.effects.push(["done", nodeKey, call]); };
      var report = function (e) { run.effects.push(describeError(nodeKey, e)); finished(); };
      try {
        fns[fnId](inputs, outputs, run.noodl, run.component, nodeConsole(nodeKey)).then(finished, report);
      } catch (e) {
        report(e);
      }
      return takeEffects(run);  // what the synchronous part did, without another call from Python
    },
    queryFilter: function (code, inputsJson, collection, metadataJson) {
      // Runs a Query Records JSON filter script: where()/filter() and sort() record what it asks for.
      var cleaned = code.replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, "");
      var variables = cleaned.match(/\$[A-Za-z0-9]+/g) || [];
      var inputs = jsonParse(inputsJson);
      var metadata = jsonParse(metadataJson);
      var schema = schemaOf({ metadata: metadata }, collection);
      var result = { where: {}, sort: [], errors: [] };
      var take = function (f) { result.where = convertFilter(f, schema, result.errors); };
      var fn = Function.apply(null, ["filter", "where", "sort", "Inputs"].concat(variables).concat([cleaned]));
      fn.apply(null, [take, take, function (s) { result.sort = s; }, inputs].concat(
        variables.map(function (v) { return inputs[v.substring(1)]; })));
      return jsonStringify(result);
    },
    compileScript: function (fnId, paramsJson, script) {
      fns[fnId] = frozenFunction(Function.apply(null, jsonParse(paramsJson).concat([script])));
    },
    runScript: function (id, fnId, nodeKey, inputsJson, payloadJson) {
      // REST request/response scripts: (Inputs, Outputs, Request|Response); returns the payload after.
      var run = runs[id];
      var payload = decode(run, payloadJson);
      fns[fnId](decode(run, inputsJson), outputsOf(nodeKey, "[]"), payload);
      takeLooseLogs(run, nodeKey);
      return encode(payload);
    },
    fireTimer: function (id, timerId) {
      var run = runs[id];
      if (run) fireTimer(run, timerId);
    },
    settle: function (id, callId, ok, valueJson) {
      var run = runs[id];
      var call = run && run.pending !== null ? run.pending[callId] : undefined;
      if (!call) return;
      delete run.pending[callId];
      if (ok) call.resolve(valueJson === "" ? undefined : decode(run, valueJson));
      else call.reject(new Error(valueJson));
    },
    guardArrayLoops: guardArrayLoops,
    lockdown: lockdown,
    isClean: isClean,
    takeEffects: function (id) { return takeEffects(runs[id]); },
  };
})();
