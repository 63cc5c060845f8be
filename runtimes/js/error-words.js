// V8's wording of engine errors, for errors.js, which compiles this file on a context's first error
// (most runs never throw; compiling it with every context would cost more than it does there). A
// function body: it returns a function of the list of compiled scripts (errors.js keeps it), which
// returns `stack(error, sites)` (rewords the message, writes the stack), `json(error, text,
// failure)` (rewords a JSON.parse SyntaxError with the text parsed) and `circular(error, value)`
// (describes the circle JSON.stringify met, as V8 does). See errors.js for why.
"use strict";

return function (units) {
  var errorToString = Error.prototype.toString;
  var functionToString = Function.prototype.toString;
  var unitTexts = new WeakMap();  // function -> its source text, read on first need

  var IDENTIFIER_CHAR = /[A-Za-z0-9_$]/;
  var CHAIN = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*|\[[^\[\]]*\]|\(\.\.\.\))*$/;
  var RESERVED = { "function": 1, "async": 1, "return": 1, "new": 1, "typeof": 1, "void": 1, "delete": 1,
    "await": 1, "yield": 1, "this": 0 };

  function textOf(fn) {
    var text = unitTexts.get(fn);
    if (text === undefined) {
      text = functionToString.call(fn);
      unitTexts.set(fn, text);
    }
    return text;
  }

  // The source line of a user frame, or null when the frame is not in a registered script.
  function sourceLine(site) {
    var fn;
    try { fn = site.getFunction(); } catch (e) { return null; }
    var line = site.getLineNumber();
    if (typeof fn !== "function" || typeof line !== "number") return null;
    var own = functionToString.call(fn);
    for (var i = units.length - 1; i >= 0; i--) {
      var unit = units[i];
      var text = unit === fn ? own : textOf(unit);
      if (unit === fn || text.indexOf(own) >= 0) {
        // A script made by the Function constructor starts with its header "function anonymous(…\n) {";
        // positions in that header are not the user's code.
        if (line < 3 && /^(async )?function anonymous\(/.test(text)) return null;
        return text.split("\n")[line - 1] || null;
      }
    }
    return null;
  }

  function matchingOpen(text, end, open, close) {
    // The index of the `open` that the `close` at `end` closes, or -1.
    var depth = 0;
    for (var i = end; i >= 0; i--) {
      if (text[i] === close) depth++;
      else if (text[i] === open && --depth === 0) return i;
    }
    return -1;
  }

  // The member chain (`o.a.b`, `list[0]`, `f(...).g`) around column `column` of `line`, as V8 names
  // the value in its messages; null when the position holds no plain chain.
  function chainAt(line, column) {
    var at = column - 1;
    if (!line || at < 0 || at >= line.length || !IDENTIFIER_CHAR.test(line[at])) return null;
    var start = at;
    var end = at;
    while (end < line.length && IDENTIFIER_CHAR.test(line[end])) end++;
    for (;;) {  // forward: .name and [index] parts
      if (line[end] === "." && IDENTIFIER_CHAR.test(line[end + 1] || "")) {
        end++;
        while (end < line.length && IDENTIFIER_CHAR.test(line[end])) end++;
      } else if (line[end] === "[") {
        var close = line.indexOf("]", end);
        if (close < 0 || line.substring(end + 1, close).indexOf("[") >= 0) break;
        end = close + 1;
      } else {
        break;
      }
    }
    var prefix = "";
    for (;;) {  // backward: name. parts, and a call before them as `f(...)`
      while (start > 0 && IDENTIFIER_CHAR.test(line[start - 1])) start--;
      if (line[start - 1] !== ".") break;
      if (line[start - 2] === ")") {
        var open = matchingOpen(line, start - 2, "(", ")");
        if (open <= 0 || !IDENTIFIER_CHAR.test(line[open - 1])) return null;
        prefix = "(...)" + line.substring(start - 1, at) + prefix;
        var callee = open;
        while (callee > 0 && (IDENTIFIER_CHAR.test(line[callee - 1]) || line[callee - 1] === ".")) callee--;
        var head = line.substring(callee, open);
        if (!CHAIN.test(head)) return null;
        return finish(head + prefix + line.substring(at, end), line, callee);
      }
      if (!IDENTIFIER_CHAR.test(line[start - 2] || "")) break;
      start--;
    }
    return finish(line.substring(start, end), line, start);
  }

  function finish(chain, line, start) {
    if (!CHAIN.test(chain) || RESERVED[chain.split(".")[0]]) return null;
    var before = line.substring(0, start).replace(/\s+$/, "");
    return { text: chain.replace(/\[(["'])([A-Za-z_$][A-Za-z0-9_$]*)\1\]/g, ".$2"), afterNew: /(^|[^A-Za-z0-9_$.])new$/.test(before),
      after: line.substring(start + chain.length) };
  }

  // The first frame of user code, and whether a native function threw before it.
  function userChain(sites) {
    var site = sites[0];
    if (!site || site.isNative()) return null;
    return chainAt(sourceLine(site), site.getColumnNumber());
  }

  var READ = /^cannot read property '(.*)' of (undefined|null)$/;
  var SET = /^cannot set property '(.*)' of (undefined|null)$/;
  var DIGITS = {
    toFixed: "toFixed() digits argument must be between 0 and 100",
    toPrecision: "toPrecision() argument must be between 1 and 100",
    toExponential: "toExponential() argument must be between 0 and 100",
  };
  var FIXED = {
    "invalid array length": "Invalid array length",
    "invalid string length": "Invalid string length",
    "empty array": "Reduce of empty array with no initial value",
    "cannot convert symbol to string": "Cannot convert a Symbol value to a string",
    "BigInt division by zero": "Division by zero",
    "this is not initialized":
      "Must call super constructor in derived class before accessing 'this' or returning from derived constructor",
  };

  function iterableMessage(value, chain, native) {
    // Spread, destructuring and for-of name what they iterate; reading [Symbol.iterator] itself, or a
    // built-in iterating its argument, says which property failed.
    var explicit = chain !== null && (chain.text === "Symbol.iterator" || chain.after.indexOf("[Symbol.iterator]") === 0);
    if (!native && !explicit) return (chain === null ? value : chain.text) + " is not iterable";
    return (value === "null" ? "object null" : value) + " is not iterable (cannot read property Symbol(Symbol.iterator))";
  }

  // V8's wording of a QuickJS message, or the message as it is.
  function reworded(error, message, sites) {
    var top = sites[0];
    var native = !!(top && top.isNative());
    var name = native ? top.getFunctionName() : null;
    if (error instanceof TypeError) {
      var m = READ.exec(message);
      if (m) {
        if (m[1] === "Symbol.iterator") return iterableMessage(m[2], userChain(sites), native);
        return "Cannot read properties of " + m[2] + " (reading '" + m[1] + "')";
      }
      m = SET.exec(message);
      if (m) return "Cannot set properties of " + m[2] + " (setting '" + m[1] + "')";
      if (message === "not a function" || message === "not a constructor") {
        var callee = userChain(sites);
        if (callee === null) return message;
        return callee.text + (callee.afterNew || message === "not a constructor" ? " is not a constructor" : " is not a function");
      }
      if (message === "value is not iterable") {
        var iterated = userChain(sites);
        return iterated === null ? message : iterated.text + " is not iterable";
      }
      m = /^'(.*)' is read-only$/.exec(message);
      if (m) {
        var target = userChain(sites);
        // QuickJS sometimes places the throw at the next statement: a constant unless the position
        // shows a property of that name.
        if (target === null || target.text.slice(-m[1].length - 1) !== "." + m[1]) return "Assignment to constant variable.";
        return "Cannot assign to read only property '" + m[1] + "' of object '#<Object>'";
      }
      if (message === "object is not extensible") {
        var added = userChain(sites);
        var dot = added === null ? -1 : added.text.lastIndexOf(".");
        return dot < 0 ? message : "Cannot add property " + added.text.substring(dot + 1) + ", object is not extensible";
      }
      if (message === "class constructors must be invoked with 'new'" && top) {
        return "Class constructor " + (top.getFunctionName() || "") + " cannot be invoked without 'new'";
      }
      if (message === "cannot convert BigInt to number") {
        return native ? "Cannot convert a BigInt value to a number" : "Cannot mix BigInt and other types, use explicit conversions";
      }
    } else if (error instanceof RangeError) {
      if (message === "invalid number of digits" && DIGITS[name]) return DIGITS[name];
      if (message === "invalid array index" && name === "ArrayBuffer") return "Invalid array buffer length";
    } else if (error instanceof ReferenceError) {
      var uninitialized = /^(.+) is not initialized$/.exec(message);
      if (uninitialized && message !== "this is not initialized") {
        return "Cannot access '" + uninitialized[1] + "' before initialization";
      }
    } else if (error instanceof URIError) {
      return "URI malformed";  // V8 has one message for every malformed URI
    } else if (error instanceof SyntaxError) {
      var unexpected = /^unexpected token in expression: '(.*)'$/.exec(message);
      if (unexpected) return unexpected[1] === "" ? "Unexpected end of input" : "Unexpected token '" + unexpected[1] + "'";
      if (message === "unexpected end of string" || message === "invalid number literal") return "Invalid or unexpected token";
      // JSON.parse: V8 (Node 20) gives the position only (the other JSON messages: parse below).
      var json = / in JSON at position (\d+) \(line \d+ column \d+\)$/.exec(message);
      if (json) return message.substring(0, json.index) + " in JSON at position " + json[1];
    }
    if (name === "atob" && message === "The string to be decoded is not correctly encoded") return "Invalid character";
    if (Object.prototype.hasOwnProperty.call(FIXED, message)) return FIXED[message];
    return message;
  }

  // ---- JSON.parse ----------------------------------------------------------------------------------
  // Its messages need the text parsed, which the error does not hold: errors.js wraps JSON.parse and
  // hands the text over with QuickJS's position of the failure (a frame of the text itself).
  var SPECIAL_TEXTS = { "undefined": 1, "NaN": 1, "Infinity": 1, "[object Object]": 1 };
  var LITERALS = { t: "true", f: "false", n: "null" };
  var CONTEXT = 10;  // characters V8 quotes on each side of an unexpected token in a long text

  function offsetOf(text, line, column) {
    var at = 0;
    for (var i = 1; i < line; i++) {
      at = text.indexOf("\n", at) + 1;
      if (at === 0) return -1;
    }
    return at + column - 1;
  }

  function unexpectedToken(text, at) {
    if (at >= text.length) return "Unexpected end of JSON input";
    var c = text[at];
    if (c === "\"") return "Unexpected string in JSON at position " + at;
    if (/[0-9]/.test(c)) return "Unexpected number in JSON at position " + at;
    var quoted;
    if (text.length <= 2 * CONTEXT) quoted = "\"" + text + "\"";
    else if (at < CONTEXT) quoted = "\"" + text.substring(0, at + CONTEXT) + "\"...";
    else if (at >= text.length - CONTEXT) quoted = "...\"" + text.substring(at - CONTEXT) + "\"";
    else quoted = "...\"" + text.substring(at - CONTEXT, at + CONTEXT) + "\"...";
    return "Unexpected token '" + c + "', " + quoted + " is not valid JSON";
  }

  function endsInString(text) {
    var inString = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (inString && c === "\\") i++;
      else if (c === "\"") inString = !inString;
    }
    return inString;
  }

  function jsonMessage(message, text, position) {
    if (SPECIAL_TEXTS[text] === 1) return "\"" + text + "\" is not valid JSON";
    var token = /^unexpected token: '([\s\S]*)'$/.exec(message);
    if (token && position >= 0) {
      var literal = LITERALS[token[1][0]];
      var at = position;
      if (literal) {  // V8 fails at the first character that leaves true/false/null
        var k = 0;
        while (k < literal.length && text[position + k] === literal[k]) k++;
        at = position + k;
      }
      return unexpectedToken(text, at);
    }
    if (message === "unexpected data at the end" && position >= 0) {
      return "Unexpected non-whitespace character after JSON at position " + position;
    }
    if (message === "Unexpected end of JSON input" && endsInString(text)) {
      return "Unterminated string in JSON at position " + text.length;
    }
    var m = /^(Unexpected number|No number after minus sign) in JSON at position (\d+)$/.exec(message);
    if (m) return m[1] + " in JSON at position " + (Number(m[2]) + 1);  // V8 points after the first character
    if (/^Expected property name or '}' in JSON at position (\d+)$/.test(message)) {
      var before = text.substring(0, Number(/\d+$/.exec(message)[0])).replace(/\s+$/, "");
      if (before[before.length - 1] === ",") return message.replace("property name or '}'", "double-quoted property name");
    }
    return message;
  }

  function json(error, text, failure) {
    if (!(error instanceof SyntaxError)) return;
    var source = String(text);
    var message = jsonMessage(error.message, source, offsetOf(source, failure[0], failure[1]));
    if (message !== error.message) error.message = message;  // the stack, written when read, follows
  }

  // ---- JSON.stringify: V8 describes the circle ------------------------------------------------------
  var CIRCLE_HEAD = 2;  // V8 shows the first two steps of a long circle and its last one
  var CIRCLE_TAIL = 1;

  function constructorName(object) {
    var proto = Object.getPrototypeOf(object);
    var ctor = proto && Object.prototype.hasOwnProperty.call(proto, "constructor") ? proto.constructor : null;
    return typeof ctor === "function" && ctor.name ? ctor.name : "Object";
  }

  function keyText(holder, key) {
    return Array.isArray(holder) ? "index " + key : "property '" + key + "'";
  }

  // The path JSON.stringify walks to the first object it meets again, as [holder, key] steps.
  function findCircle(value) {
    var stack = [];
    var keys = [];
    function walk(v) {
      if (v !== null && typeof v === "object" && typeof v.toJSON === "function") v = v.toJSON();
      if (v === null || typeof v !== "object") return null;
      var at = stack.indexOf(v);
      if (at >= 0) return at;
      stack.push(v);
      var own = Array.isArray(v) ? Object.keys(v) : Object.keys(v);
      for (var i = 0; i < own.length; i++) {
        keys.push(own[i]);
        var found = walk(v[own[i]]);
        if (found !== null) return found;
        keys.pop();
      }
      stack.pop();
      return null;
    }
    var start = walk(value);
    if (start === null) return null;
    return { objects: stack.slice(start), keys: keys.slice(start) };
  }

  function circleMessage(value) {
    var circle = findCircle(value);
    if (circle === null) return null;
    var objects = circle.objects;
    var keys = circle.keys;
    var lines = ["Converting circular structure to JSON",
      "    --> starting at object with constructor '" + constructorName(objects[0]) + "'"];
    var middle = [];
    for (var i = 1; i < objects.length; i++) {
      middle.push("    |     " + keyText(objects[i - 1], keys[i - 1]) + " -> object with constructor '" +
        constructorName(objects[i]) + "'");
    }
    if (middle.length > CIRCLE_HEAD + CIRCLE_TAIL) {
      middle = middle.slice(0, CIRCLE_HEAD).concat(["    |     ..."], middle.slice(middle.length - CIRCLE_TAIL));
    }
    lines = lines.concat(middle);
    lines.push("    --- " + keyText(objects[objects.length - 1], keys[keys.length - 1]) + " closes the circle");
    return lines.join("\n");
  }

  function circular(error, value) {
    if (!(error instanceof TypeError) || error.message !== "circular reference") return;
    var message;
    try { message = circleMessage(value); } catch (e) { return; }  // a throwing toJSON: keep QuickJS's words
    if (message !== null) error.message = message;  // the stack, written when read, follows
  }

  function frameText(site) {
    var name = site.getFunctionName();
    if (site.isNative()) return "    at " + (name || "<anonymous>") + " (native)";
    var where = (site.getFileName() || "<anonymous>") + ":" + site.getLineNumber() + ":" + site.getColumnNumber();
    return name ? "    at " + name + " (" + where + ")" : "    at " + where;
  }

  function written(error, sites) {
    var header;
    try {
      header = errorToString.call(error);
    } catch (e) {
      header = "Error";
    }
    var lines = [header];
    for (var i = 0; i < sites.length; i++) lines.push(frameText(sites[i]));
    return lines.join("\n");
  }

  function settle(error, value) {
    Object.defineProperty(error, "stack", { value: value, writable: true, enumerable: false, configurable: true });
  }

  // The message is reworded now; the stack is written when first read, as V8 does (a subclass that
  // sets `this.name` in its constructor shows that name), and never for errors no one reads.
  function stack(error, sites) {
    try {
      if (error instanceof Error && typeof error.message === "string" && Object.prototype.hasOwnProperty.call(error, "message")) {
        var message = reworded(error, error.message, sites);
        if (message !== error.message) error.message = message;
      }
    } catch (e) {
      if (typeof InternalError === "function" && e instanceof InternalError) throw e;  // a limit hit while rewording
    }
    if (error === null || (typeof error !== "object" && typeof error !== "function") || !Object.isExtensible(error)) {
      return written(error, sites);
    }
    Object.defineProperty(error, "stack", {
      get: function () {
        var text = written(error, sites);
        settle(error, text);
        return text;
      },
      set: function (value) { settle(error, value); },
      enumerable: false,
      configurable: true,
    });
    return undefined;  // QuickJS keeps the accessor defined here
  }

  return { stack: stack, json: json, circular: circular };
};
