// The Node globals a Function's code finds in the real CloudRunner (Node 20) that QuickJS lacks:
// `global`, `process` (no environment: `env` is empty), `Buffer` (the common encodings), `URL` and
// `URLSearchParams`, `TextEncoder`/`TextDecoder` (UTF-8), `structuredClone`, `crypto.randomUUID` /
// `getRandomValues`, `AbortController`/`AbortSignal` with `EventTarget`/`Event`, `DOMException`,
// `setImmediate`/`clearImmediate`. Written for this project from the WHATWG and Node documentation.
// Compiled on first use (node-globals-lazy.js holds the globals until then; compiling this file
// costs more than the rest of a context's set-up), as a function body that returns the globals.
// What it returns is frozen like every other built-in, so no run can change what a later run finds.
// QuickJS itself has `atob`, `btoa`, `performance` and `queueMicrotask`.
"use strict";

return (function () {
  var G = globalThis;
  var defineProperty = Object.defineProperty;

  function define(target, name, value, enumerable) {
    defineProperty(target, name, { value: value, writable: true, configurable: true, enumerable: !!enumerable });
  }

  function methods(target, table) {
    Object.keys(table).forEach(function (name) { define(target, name, table[name]); });
  }

  function needNew(target, name) {
    if (target === undefined) throw new TypeError("Class constructor " + name + " cannot be invoked without 'new'");
  }

  // ---- DOMException ------------------------------------------------------------------------------
  var DOM_CODES = { IndexSizeError: 1, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidCharacterError: 5, NetworkError: 19, AbortError: 20, TimeoutError: 23, DataCloneError: 25 };

  function DOMException(message, name) {
    needNew(new.target, "DOMException");
    var error = Reflect.construct(Error, [message === undefined ? "" : String(message)], new.target);
    define(error, "name", name === undefined ? "Error" : String(name));
    return error;
  }
  DOMException.prototype = Object.create(Error.prototype, {
    constructor: { value: DOMException, writable: true, configurable: true },
  });
  defineProperty(DOMException.prototype, "code", {
    get: function () { return DOM_CODES[this.name] || 0; }, configurable: true,
  });

  // ---- UTF-8 -------------------------------------------------------------------------------------
  function utf8Encode(text) {
    var bytes = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
        else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        c = 0xfffd;  // a lone surrogate
      }
      if (c < 0x80) bytes.push(c);
      else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(bytes);
  }

  function utf8Decode(bytes, fatal) {
    var out = "";
    var chunk = [];
    function flush() { out += String.fromCharCode.apply(null, chunk); chunk = []; }
    function bad() {
      if (fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
      chunk.push(0xfffd);
    }
    for (var i = 0; i < bytes.length;) {
      var b = bytes[i];
      var need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
      if (need < 0) { bad(); i++; continue; }
      var c = need === 0 ? b : b & (0x3f >> need);
      var j = 1;
      for (; j <= need; j++) {
        var next = bytes[i + j];
        var low = j === 1 && b === 0xe0 ? 0xa0 : j === 1 && b === 0xf0 ? 0x90 : 0x80;
        var high = j === 1 && b === 0xed ? 0x9f : j === 1 && b === 0xf4 ? 0x8f : 0xbf;
        if (next === undefined || next < low || next > high) break;
        c = (c << 6) | (next & 63);
      }
      if (j <= need) { bad(); i += j; continue; }
      i += need + 1;
      if (c >= 0x10000) { c -= 0x10000; chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff)); }
      else chunk.push(c);
      if (chunk.length > 8192) flush();
    }
    flush();
    return out;
  }

  function TextEncoder() { needNew(new.target, "TextEncoder"); }
  methods(TextEncoder.prototype, {
    encode: function encode(input) { return utf8Encode(input === undefined ? "" : String(input)); },
    encodeInto: function encodeInto(input, target) {
      var bytes = utf8Encode(String(input));
      var written = Math.min(bytes.length, target.length);
      while (written > 0 && written < bytes.length && (bytes[written] & 0xc0) === 0x80) written--;  // whole characters
      target.set(bytes.subarray(0, written));
      return { read: utf8Decode(bytes.subarray(0, written)).length, written: written };
    },
  });
  defineProperty(TextEncoder.prototype, "encoding", { get: function () { return "utf-8"; }, configurable: true });

  function bytesOf(input) {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView.');
  }

  function TextDecoder(label, options) {
    needNew(new.target, "TextDecoder");
    var name = label === undefined ? "utf-8" : String(label).trim().toLowerCase();
    if (name !== "utf-8" && name !== "utf8" && name !== "unicode-1-1-utf-8") {
      throw new RangeError('The "' + label + '" encoding is not supported');
    }
    define(this, "__fatal", !!(options && options.fatal));
    define(this, "__keepBom", !!(options && options.ignoreBOM));
  }
  methods(TextDecoder.prototype, {
    decode: function decode(input) {
      var bytes = bytesOf(input);
      if (!this.__keepBom && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      return utf8Decode(bytes, this.__fatal);
    },
  });
  defineProperty(TextDecoder.prototype, "encoding", { get: function () { return "utf-8"; }, configurable: true });
  defineProperty(TextDecoder.prototype, "fatal", { get: function () { return this.__fatal; }, configurable: true });
  defineProperty(TextDecoder.prototype, "ignoreBOM", { get: function () { return this.__keepBom; }, configurable: true });

  // ---- Buffer ------------------------------------------------------------------------------------
  var HEX = "0123456789abcdef";
  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  function encodingName(encoding) {
    var name = encoding === undefined || encoding === null ? "utf8" : String(encoding).toLowerCase();
    if (name === "utf-8") return "utf8";
    if (name === "binary") return "latin1";
    if (name === "ucs2" || name === "ucs-2" || name === "utf-16le") return "utf16le";
    if (["utf8", "hex", "base64", "base64url", "latin1", "ascii", "utf16le"].indexOf(name) < 0) {
      throw new TypeError("Unknown encoding: " + encoding);
    }
    return name;
  }

  function base64Bytes(text) {
    var clean = String(text).replace(/[^A-Za-z0-9+/\-_]/g, "");
    var out = [];
    var bits = 0;
    var value = 0;
    for (var i = 0; i < clean.length; i++) {
      var c = clean[i] === "-" ? 62 : clean[i] === "_" ? 63 : B64.indexOf(clean[i]);
      value = (value << 6) | c;
      bits += 6;
      if (bits >= 8) { bits -= 8; out.push((value >> bits) & 255); }
    }
    return out;
  }

  function stringBytes(text, encoding) {
    switch (encodingName(encoding)) {
      case "utf8": return utf8Encode(text);
      case "hex": {
        var out = [];
        for (var i = 0; i + 1 < text.length; i += 2) {
          var byte = parseInt(text.substr(i, 2), 16);
          if (isNaN(byte)) break;
          out.push(byte);
        }
        return out;
      }
      case "base64": case "base64url": return base64Bytes(text);
      case "utf16le": {
        var wide = [];
        for (var k = 0; k < text.length; k++) wide.push(text.charCodeAt(k) & 255, text.charCodeAt(k) >> 8);
        return wide;
      }
      default: {  // latin1, ascii
        var narrow = [];
        for (var n = 0; n < text.length; n++) narrow.push(text.charCodeAt(n) & 255);
        return narrow;
      }
    }
  }

  function bytesText(bytes, encoding) {
    var i;
    var out = "";
    switch (encodingName(encoding)) {
      case "utf8": return utf8Decode(bytes, false);
      case "hex":
        for (i = 0; i < bytes.length; i++) out += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
        return out;
      case "base64": case "base64url": {
        var url = encodingName(encoding) === "base64url";
        for (i = 0; i < bytes.length; i += 3) {
          var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
          out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
          out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : url ? "" : "=";
          out += i + 2 < bytes.length ? B64[n & 63] : url ? "" : "=";
        }
        return url ? out.replace(/\+/g, "-").replace(/\//g, "_") : out;
      }
      case "utf16le":
        for (i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
        return out;
      case "ascii":
        for (i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i] & 127);
        return out;
      default:
        for (i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
        return out;
    }
  }

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") return Buffer.__of(stringBytes(value, encodingOrOffset));
      if (value instanceof ArrayBuffer) {
        var offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset);
        return new Buffer(value, offset, length === undefined ? value.byteLength - offset : Number(length));
      }
      if (value !== null && typeof value === "object") {
        if (value.type === "Buffer" && Array.isArray(value.data)) return Buffer.__of(value.data);
        if (ArrayBuffer.isView(value) || Array.isArray(value) || typeof value.length === "number") {
          return Buffer.__of(Array.from(value));
        }
      }
      throw new TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, or " +
        "Array or an Array-like Object. Received " + (value === null ? "null" : typeof value === "object" ? "an instance of Object" : "type " + typeof value + " (" + String(value) + ")"));
    }
    static __of(bytes) {
      var buffer = new Buffer(bytes.length);
      buffer.set(bytes);
      return buffer;
    }
    static alloc(size, fill, encoding) {
      var buffer = new Buffer(size);
      if (fill !== undefined && fill !== 0) buffer.fill(fill, 0, buffer.length, encoding);
      return buffer;
    }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(encoding) {
      try { encodingName(encoding); return typeof encoding === "string"; } catch (e) { return false; }
    }
    static byteLength(value, encoding) {
      if (typeof value !== "string") return value.byteLength;
      return stringBytes(value, encoding).length;
    }
    static concat(list, total) {
      var length = total === undefined ? list.reduce(function (n, b) { return n + b.length; }, 0) : total;
      var out = Buffer.alloc(length);
      var at = 0;
      for (var i = 0; i < list.length && at < length; i++) {
        var part = list[i].subarray(0, length - at);
        out.set(part, at);
        at += part.length;
      }
      return out;
    }
    static compare(a, b) { return a.compare(b); }
    toString(encoding, start, end) {
      var from = start === undefined ? 0 : Math.max(0, start | 0);
      var to = end === undefined ? this.length : Math.min(this.length, end | 0);
      return bytesText(to > from ? this.subarray(from, to) : new Uint8Array(0), encoding);
    }
    toJSON() { return { type: "Buffer", data: Array.from(this) }; }
    equals(other) { return this.compare(other) === 0; }
    compare(other) {
      var n = Math.min(this.length, other.length);
      for (var i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }
    write(text, offset, length, encoding) {
      if (typeof offset === "string") { encoding = offset; offset = 0; length = undefined; }
      if (typeof length === "string") { encoding = length; length = undefined; }
      var at = offset === undefined ? 0 : offset;
      var bytes = stringBytes(String(text), encoding);
      var count = Math.min(bytes.length, this.length - at, length === undefined ? Infinity : length);
      for (var i = 0; i < count; i++) this[at + i] = bytes[i];
      return count;
    }
    fill(value, start, end, encoding) {
      if (typeof start === "string") { encoding = start; start = 0; end = this.length; }
      if (typeof value !== "string") return super.fill(value, start, end);
      var bytes = stringBytes(value, encoding);
      var from = start === undefined ? 0 : start;
      var to = end === undefined ? this.length : end;
      for (var i = from; i < to && bytes.length; i++) this[i] = bytes[(i - from) % bytes.length];
      return this;
    }
    slice(start, end) { return this.subarray(start, end); }
    subarray(start, end) {
      var view = Uint8Array.prototype.subarray.call(this, start, end);
      return new Buffer(view.buffer, view.byteOffset, view.length);
    }
    includes(value, offset, encoding) { return this.indexOf(value, offset, encoding) >= 0; }
    indexOf(value, offset, encoding) {
      if (typeof value === "number") return Uint8Array.prototype.indexOf.call(this, value, offset);
      var needle = typeof value === "string" ? stringBytes(value, encoding) : value;
      outer: for (var i = offset === undefined ? 0 : offset; i + needle.length <= this.length; i++) {
        for (var j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    readUInt8(offset) { return this[offset || 0]; }
    static get [Symbol.species]() { return Buffer; }
  }

  // ---- URLSearchParams ---------------------------------------------------------------------------
  function formEncode(text) {
    return encodeURIComponent(text).replace(/%20/g, "+").replace(/[!'()~]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function formDecode(text) {
    var plain = text.replace(/\+/g, " ");
    try { return decodeURIComponent(plain); } catch (e) {
      return plain.replace(/%([0-9A-Fa-f]{2})/g, function (m, h) { return String.fromCharCode(parseInt(h, 16)); });
    }
  }

  function URLSearchParams(init) {
    needNew(new.target, "URLSearchParams");
    define(this, "__list", []);
    define(this, "__url", null);
    var list = this.__list;
    if (init === undefined || init === null) return;
    if (typeof init === "object" && typeof init[Symbol.iterator] === "function") {
      for (var pair of init) {
        var items = Array.from(pair);
        if (items.length !== 2) throw new TypeError("Each query pair must be an iterable [name, value] tuple");
        list.push([String(items[0]), String(items[1])]);
      }
    } else if (typeof init === "object") {
      Object.keys(init).forEach(function (key) { list.push([key, String(init[key])]); });
    } else {
      parseQuery(list, String(init));
    }
  }

  function parseQuery(list, text) {
    list.length = 0;
    (text[0] === "?" ? text.substring(1) : text).split("&").forEach(function (part) {
      if (part === "") return;
      var eq = part.indexOf("=");
      list.push(eq < 0 ? [formDecode(part), ""] : [formDecode(part.substring(0, eq)), formDecode(part.substring(eq + 1))]);
    });
  }

  function changed(params) {
    if (params.__url !== null) {
      var text = params.toString();
      params.__url.__parts.query = text === "" ? null : text;
    }
  }

  methods(URLSearchParams.prototype, {
    append: function append(name, value) { this.__list.push([String(name), String(value)]); changed(this); },
    delete: function (name, value) {
      var key = String(name);
      var list = this.__list;
      for (var i = list.length - 1; i >= 0; i--) {
        if (list[i][0] === key && (value === undefined || list[i][1] === String(value))) list.splice(i, 1);
      }
      changed(this);
    },
    get: function get(name) {
      var key = String(name);
      var found = this.__list.find(function (pair) { return pair[0] === key; });
      return found ? found[1] : null;
    },
    getAll: function getAll(name) {
      var key = String(name);
      return this.__list.filter(function (pair) { return pair[0] === key; }).map(function (pair) { return pair[1]; });
    },
    has: function has(name, value) {
      var key = String(name);
      return this.__list.some(function (pair) { return pair[0] === key && (value === undefined || pair[1] === String(value)); });
    },
    set: function set(name, value) {
      var key = String(name);
      var list = this.__list;
      var at = list.findIndex(function (pair) { return pair[0] === key; });
      if (at < 0) { list.push([key, String(value)]); changed(this); return; }
      list[at][1] = String(value);
      for (var i = list.length - 1; i > at; i--) if (list[i][0] === key) list.splice(i, 1);
      changed(this);
    },
    sort: function sort() {
      var sorted = this.__list.map(function (pair, i) { return [pair, i]; }).sort(function (a, b) {
        return a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1];
      });
      this.__list.splice.apply(this.__list, [0, this.__list.length].concat(sorted.map(function (e) { return e[0]; })));
      changed(this);
    },
    forEach: function forEach(callback, thisArg) {
      var self = this;
      this.__list.slice().forEach(function (pair) { callback.call(thisArg, pair[1], pair[0], self); });
    },
    keys: function keys() { return this.__list.map(function (pair) { return pair[0]; })[Symbol.iterator](); },
    values: function values() { return this.__list.map(function (pair) { return pair[1]; })[Symbol.iterator](); },
    entries: function entries() { return this.__list.map(function (pair) { return [pair[0], pair[1]]; })[Symbol.iterator](); },
    toString: function toString() {
      return this.__list.map(function (pair) { return formEncode(pair[0]) + "=" + formEncode(pair[1]); }).join("&");
    },
  });
  define(URLSearchParams.prototype, Symbol.iterator, URLSearchParams.prototype.entries);
  defineProperty(URLSearchParams.prototype, "size", { get: function () { return this.__list.length; }, configurable: true });
  defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: "URLSearchParams", configurable: true });

  // ---- URL ---------------------------------------------------------------------------------------
  var SPECIAL = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };

  function invalidUrl(input) {
    var error = new TypeError("Invalid URL");
    define(error, "code", "ERR_INVALID_URL");
    define(error, "input", input);
    return error;
  }

  function percentEncode(text, keep) {
    // Characters outside `keep` and outside printable ASCII are percent-encoded as UTF-8.
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      var code = text.charCodeAt(i);
      if (code > 0x20 && code < 0x7f && keep.indexOf(c) < 0) { out += c; continue; }
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) { c += text[++i]; }
      Array.prototype.forEach.call(utf8Encode(c), function (b) { out += "%" + HEX[b >> 4].toUpperCase() + HEX[b & 15].toUpperCase(); });
    }
    return out;
  }
  var PATH_ENCODE = " \"#<>?`{}";
  var QUERY_ENCODE = " \"#<>";
  var SPECIAL_QUERY_ENCODE = " \"#<>'";
  var FRAGMENT_ENCODE = " \"<>`";
  var USERINFO_ENCODE = " \"#<>?`{}/:;=@[\\]^|";

  function normalizePath(path, special) {
    var segments = path.split(special ? /[\/\\]/ : /\//);
    var out = [];
    for (var i = 1; i < segments.length; i++) {
      var s = segments[i];
      var lower = s.toLowerCase();
      if (lower === "." || lower === "%2e") {
        if (i === segments.length - 1) out.push("");
      } else if (lower === ".." || lower === ".%2e" || lower === "%2e." || lower === "%2e%2e") {
        out.pop();
        if (i === segments.length - 1) out.push("");
      } else {
        out.push(percentEncode(s, PATH_ENCODE));
      }
    }
    return "/" + out.join("/");
  }

  function parseHost(text, special) {
    if (text === "") {
      if (special) return null;
      return "";
    }
    if (text[0] === "[") return /^\[[0-9A-Fa-f:.]+\]$/.test(text) ? text.toLowerCase() : null;
    var host;
    try { host = decodeURIComponent(text); } catch (e) { return null; }
    if (!special) return percentEncode(text, " #<>?@[\\]^|/:");
    host = host.toLowerCase();
    if (/[\u0000\t\n\r #%\/:<>?@\[\\\]^|]/.test(host)) return null;
    if (/[^\x00-\x7f]/.test(host)) return null;  // international names need IDNA, which is not here
    var parts = host.split(".");
    if (parts[parts.length - 1] === "") parts.pop();
    var last = parts[parts.length - 1];
    if (last !== undefined && /^(0x[0-9a-f]*|[0-9]+)$/.test(last)) {  // an IPv4 address
      var numbers = parts.map(function (p) { return /^0x/.test(p) ? parseInt(p.substring(2) || "0", 16) : /^0[0-7]+$/.test(p) ? parseInt(p, 8) : /^[0-9]+$/.test(p) ? Number(p) : NaN; });
      if (numbers.some(isNaN) || numbers.length > 4) return null;
      var value = numbers.pop();
      if (value >= Math.pow(256, 4 - numbers.length)) return null;
      numbers.forEach(function (n, i) { if (n > 255) value = NaN; value += n * Math.pow(256, 3 - i); });
      if (isNaN(value)) return null;
      return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
    }
    return host;
  }

  function parseUrl(input, base) {
    var text = String(input).replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
    var parts = { scheme: "", username: "", password: "", host: null, port: "", path: "", query: null, fragment: null, opaque: false };
    var hash = text.indexOf("#");
    if (hash >= 0) { parts.fragment = percentEncode(text.substring(hash + 1), FRAGMENT_ENCODE); text = text.substring(0, hash); }
    var schemeMatch = /^([A-Za-z][A-Za-z0-9+.\-]*):/.exec(text);
    var rest;
    if (schemeMatch) {
      parts.scheme = schemeMatch[1].toLowerCase() + ":";
      rest = text.substring(schemeMatch[0].length);
    } else {
      if (!base) return null;
      parts.scheme = base.scheme;
      rest = text;
      if (base.opaque) {
        if (rest !== "" || parts.fragment === null) return null;
        return Object.assign({}, base, { fragment: parts.fragment });
      }
    }
    var special = Object.prototype.hasOwnProperty.call(SPECIAL, parts.scheme);
    var query = rest.indexOf("?");
    if (query >= 0) {
      parts.query = percentEncode(rest.substring(query + 1), special ? SPECIAL_QUERY_ENCODE : QUERY_ENCODE);
      rest = rest.substring(0, query);
    }
    var slashes = special ? /^[\/\\]{2}/ : /^\/\//;
    var sameScheme = base && base.scheme === parts.scheme;
    if (slashes.test(rest) || (special && schemeMatch && !sameScheme)) {
      rest = rest.replace(special ? /^[\/\\]*/ : /^\/\//, "");
      var end = rest.search(special ? /[\/\\]/ : /\//);
      var authority = end < 0 ? rest : rest.substring(0, end);
      rest = end < 0 ? "" : rest.substring(end);
      var at = authority.lastIndexOf("@");
      if (at >= 0) {
        var info = authority.substring(0, at);
        var colon = info.indexOf(":");
        parts.username = percentEncode(colon < 0 ? info : info.substring(0, colon), USERINFO_ENCODE);
        parts.password = colon < 0 ? "" : percentEncode(info.substring(colon + 1), USERINFO_ENCODE);
        authority = authority.substring(at + 1);
      }
      var portMatch = /:([0-9]*)$/.exec(authority);
      if (portMatch && authority[0] !== "[" || portMatch && /\]:[0-9]*$/.test(authority)) {
        authority = authority.substring(0, portMatch.index);
        if (portMatch[1] !== "") {
          var port = Number(portMatch[1]);
          if (port > 65535) return null;
          parts.port = String(port) === SPECIAL[parts.scheme] ? "" : String(port);
        }
      } else if (/:[^\]]*$/.test(authority) && authority[0] !== "[") {
        return null;
      }
      parts.host = parseHost(authority, special && parts.scheme !== "file:");
      if (parts.host === null && parts.scheme !== "file:") return null;
      if (parts.host === null) parts.host = "";
      parts.path = rest === "" ? (special ? "/" : "") : normalizePath(rest, special);
    } else if (sameScheme || (!schemeMatch && base)) {
      parts.username = base.username; parts.password = base.password; parts.host = base.host; parts.port = base.port;
      if (rest === "") {
        parts.path = base.path;
        if (query < 0) parts.query = base.query;
      } else if (rest[0] === "/" || (special && rest[0] === "\\")) {
        parts.path = normalizePath(rest, special);
      } else {
        var dir = base.path.substring(0, base.path.lastIndexOf("/") + 1);
        parts.path = normalizePath((dir || "/") + rest, special);
      }
    } else if (special) {
      return null;
    } else if (rest[0] === "/") {
      parts.path = normalizePath(rest, false);
    } else {
      parts.opaque = true;
      parts.path = percentEncode(rest, "");
    }
    return parts;
  }

  function hrefOf(p) {
    var out = p.scheme;
    if (p.host !== null) {
      out += "//";
      if (p.username !== "" || p.password !== "") out += p.username + (p.password !== "" ? ":" + p.password : "") + "@";
      out += p.host + (p.port !== "" ? ":" + p.port : "");
    }
    out += p.path;
    if (p.query !== null) out += "?" + p.query;
    if (p.fragment !== null) out += "#" + p.fragment;
    return out;
  }

  function URL(input, base) {
    needNew(new.target, "URL");
    var baseParts = null;
    if (base !== undefined) {
      baseParts = parseUrl(base instanceof URL ? base.href : String(base), null);
      if (baseParts === null) throw invalidUrl(String(input));
    }
    var parts = parseUrl(input instanceof URL ? input.href : String(input), baseParts);
    if (parts === null) throw invalidUrl(String(input));
    define(this, "__parts", parts);
    var params = new URLSearchParams(parts.query === null ? "" : parts.query);
    define(params, "__url", this);
    define(this, "__params", params);
  }

  function accessor(name, get, set) {
    defineProperty(URL.prototype, name, { get: get, set: set, enumerable: true, configurable: true });
  }
  function reparse(url, href) {
    var parts = parseUrl(href, null);
    if (parts === null) return;
    url.__parts = parts;
    parseQuery(url.__params.__list, parts.query === null ? "" : parts.query);
  }
  accessor("href", function () { return hrefOf(this.__parts); }, function (v) {
    var parts = parseUrl(String(v), null);
    if (parts === null) throw invalidUrl(String(v));
    reparse(this, String(v));
  });
  accessor("origin", function () {
    var p = this.__parts;
    if (!Object.prototype.hasOwnProperty.call(SPECIAL, p.scheme) || p.scheme === "file:") return "null";
    return p.scheme + "//" + p.host + (p.port !== "" ? ":" + p.port : "");
  });
  accessor("protocol", function () { return this.__parts.scheme; }, function (v) {
    var scheme = String(v).replace(/:.*$/, "").toLowerCase() + ":";
    var wasSpecial = Object.prototype.hasOwnProperty.call(SPECIAL, this.__parts.scheme);
    if (/^[a-z][a-z0-9+.\-]*:$/.test(scheme) && wasSpecial === Object.prototype.hasOwnProperty.call(SPECIAL, scheme)) {
      this.__parts.scheme = scheme;
      if (this.__parts.port === SPECIAL[scheme]) this.__parts.port = "";
    }
  });
  accessor("username", function () { return this.__parts.username; }, function (v) {
    if (this.__parts.host) this.__parts.username = percentEncode(String(v), USERINFO_ENCODE);
  });
  accessor("password", function () { return this.__parts.password; }, function (v) {
    if (this.__parts.host) this.__parts.password = percentEncode(String(v), USERINFO_ENCODE);
  });
  accessor("host", function () {
    var p = this.__parts;
    return p.host === null ? "" : p.host + (p.port !== "" ? ":" + p.port : "");
  }, function (v) {
    var p = this.__parts;
    if (p.opaque) return;
    var next = parseUrl(p.scheme + "//" + String(v) + "/", null);
    if (next !== null && next.host) { p.host = next.host; if (/:/.test(String(v))) p.port = next.port; }
  });
  accessor("hostname", function () { return this.__parts.host === null ? "" : this.__parts.host; }, function (v) {
    var p = this.__parts;
    if (p.opaque) return;
    var next = parseUrl(p.scheme + "//" + String(v).replace(/:.*$/, "") + "/", null);
    if (next !== null && next.host) p.host = next.host;
  });
  accessor("port", function () { return this.__parts.port; }, function (v) {
    var p = this.__parts;
    if (p.host === null || p.host === "" || p.scheme === "file:") return;
    var text = String(v);
    if (text === "") { p.port = ""; return; }
    var digits = /^[0-9]+/.exec(text);
    if (digits && Number(digits[0]) <= 65535) p.port = String(Number(digits[0])) === SPECIAL[p.scheme] ? "" : String(Number(digits[0]));
  });
  accessor("pathname", function () { return this.__parts.path; }, function (v) {
    var p = this.__parts;
    if (p.opaque) return;
    var special = Object.prototype.hasOwnProperty.call(SPECIAL, p.scheme);
    var text = String(v);
    p.path = normalizePath(text[0] === "/" || (special && text[0] === "\\") ? text : "/" + text, special);
  });
  accessor("search", function () {
    var q = this.__parts.query;
    return q === null || q === "" ? "" : "?" + q;
  }, function (v) {
    var text = String(v);
    if (text[0] === "?") text = text.substring(1);
    var special = Object.prototype.hasOwnProperty.call(SPECIAL, this.__parts.scheme);
    this.__parts.query = text === "" ? null : percentEncode(text, special ? SPECIAL_QUERY_ENCODE : QUERY_ENCODE);
    parseQuery(this.__params.__list, text);
  });
  accessor("searchParams", function () { return this.__params; });
  accessor("hash", function () {
    var f = this.__parts.fragment;
    return f === null || f === "" ? "" : "#" + f;
  }, function (v) {
    var text = String(v);
    if (text[0] === "#") text = text.substring(1);
    this.__parts.fragment = text === "" ? null : percentEncode(text, FRAGMENT_ENCODE);
  });
  methods(URL.prototype, {
    toString: function toString() { return this.href; },
    toJSON: function toJSON() { return this.href; },
  });
  defineProperty(URL.prototype, Symbol.toStringTag, { value: "URL", configurable: true });
  methods(URL, {
    canParse: function canParse(input, base) {
      try { new URL(input, base); return true; } catch (e) { return false; }
    },
  });

  // ---- structuredClone ---------------------------------------------------------------------------
  function cloneError(value) {
    var text;
    try { text = typeof value === "function" ? Function.prototype.toString.call(value) : String(value); } catch (e) { text = "value"; }
    return new DOMException(text + " could not be cloned.", "DataCloneError");
  }

  function structuredClone(value, options) {
    if (arguments.length === 0) throw new TypeError("The \"value\" argument must be specified");
    var seen = new Map();
    function clone(v) {
      if (typeof v === "function" || typeof v === "symbol") throw cloneError(v);
      if (v === null || typeof v !== "object") return v;
      if (seen.has(v)) return seen.get(v);
      var out;
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        Object.keys(v).forEach(function (k) { out[k] = clone(v[k]); });
        return out;
      }
      if (v instanceof Date) out = new Date(v.getTime());
      else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
      else if (v instanceof Boolean || v instanceof Number || v instanceof String) out = Object(v.valueOf());
      else if (v instanceof ArrayBuffer) out = v.slice(0);
      else if (ArrayBuffer.isView(v)) {
        var Kind = v instanceof Buffer ? Uint8Array : v.constructor;
        out = v instanceof DataView ? new DataView(v.buffer.slice(0)) : new Kind(v);
      } else if (v instanceof Map) {
        out = new Map();
        seen.set(v, out);
        v.forEach(function (val, key) { out.set(clone(key), clone(val)); });
        return out;
      } else if (v instanceof Set) {
        out = new Set();
        seen.set(v, out);
        v.forEach(function (val) { out.add(clone(val)); });
        return out;
      } else if (v instanceof Error) {
        var ErrorKind = [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].find(function (E) {
          return v.name === E.name;
        }) || Error;
        out = new ErrorKind(v.message);
        if (typeof v.stack === "string") define(out, "stack", v.stack);
      } else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
        throw cloneError(v === null ? v : "#<" + (v.constructor && v.constructor.name || "Object") + ">");
      } else {
        out = {};
        seen.set(v, out);
        Object.keys(v).forEach(function (k) { out[k] = clone(v[k]); });
        return out;
      }
      seen.set(v, out);
      return out;
    }
    return clone(value);
  }

  // ---- crypto ------------------------------------------------------------------------------------
  // Random bytes from the engine's Math.random: unpredictable enough for ids, not for secrets.
  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      throw new DOMException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
    }
    if (array.byteLength > 65536) {
      throw new DOMException("The ArrayBufferView's byte length (" + array.byteLength + ") exceeds the number of bytes of entropy available via this API (65536)", "QuotaExceededError");
    }
    var bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return array;
  }

  function randomUUID() {
    var b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = bytesText(b, "hex");
    return hex.substring(0, 8) + "-" + hex.substring(8, 12) + "-" + hex.substring(12, 16) + "-" + hex.substring(16, 20) + "-" + hex.substring(20);
  }

  var crypto = {};
  methods(crypto, { getRandomValues: getRandomValues, randomUUID: randomUUID });
  define(crypto, "subtle", {});  // no SubtleCrypto: the object exists, its methods do not

  // ---- Event, EventTarget, AbortController -------------------------------------------------------
  function Event(type, init) {
    needNew(new.target, "Event");
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    define(this, "type", String(type));
    define(this, "bubbles", !!(init && init.bubbles));
    define(this, "cancelable", !!(init && init.cancelable));
    define(this, "defaultPrevented", false);
    define(this, "target", null);
    define(this, "currentTarget", null);
    define(this, "timeStamp", Date.now());
  }
  methods(Event.prototype, {
    preventDefault: function preventDefault() { if (this.cancelable) this.defaultPrevented = true; },
    stopPropagation: function stopPropagation() {},
    stopImmediatePropagation: function stopImmediatePropagation() { define(this, "__stopped", true); },
  });

  function EventTarget() {
    needNew(new.target, "EventTarget");
    define(this, "__listeners", Object.create(null));
  }
  methods(EventTarget.prototype, {
    addEventListener: function addEventListener(type, listener, options) {
      if (listener === null || listener === undefined) return;
      var list = this.__listeners[type] || (this.__listeners[type] = []);
      if (list.some(function (entry) { return entry.listener === listener; })) return;
      list.push({ listener: listener, once: !!(options && typeof options === "object" && options.once) });
    },
    removeEventListener: function removeEventListener(type, listener) {
      var list = this.__listeners[type];
      if (!list) return;
      var at = list.findIndex(function (entry) { return entry.listener === listener; });
      if (at >= 0) list.splice(at, 1);
    },
    dispatchEvent: function dispatchEvent(event) {
      define(event, "target", this);
      define(event, "currentTarget", this);
      var handler = this["on" + event.type];
      var list = (this.__listeners[event.type] || []).slice();
      if (typeof handler === "function") handler.call(this, event);
      for (var i = 0; i < list.length && !event.__stopped; i++) {
        var entry = list[i];
        if (entry.once) this.removeEventListener(event.type, entry.listener);
        if (typeof entry.listener === "function") entry.listener.call(this, event);
        else if (entry.listener && typeof entry.listener.handleEvent === "function") entry.listener.handleEvent(event);
      }
      return !event.defaultPrevented;
    },
  });

  function AbortSignal() { throw new TypeError("Illegal constructor"); }
  AbortSignal.prototype = Object.create(EventTarget.prototype, {
    constructor: { value: AbortSignal, writable: true, configurable: true },
  });
  function newSignal() {
    var signal = Object.create(AbortSignal.prototype);
    define(signal, "__listeners", Object.create(null));
    define(signal, "aborted", false);
    define(signal, "reason", undefined);
    define(signal, "onabort", null);
    return signal;
  }
  function abortSignal(signal, reason) {
    if (signal.aborted) return;
    signal.aborted = true;
    signal.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    signal.dispatchEvent(new Event("abort"));
  }
  methods(AbortSignal.prototype, {
    throwIfAborted: function throwIfAborted() { if (this.aborted) throw this.reason; },
  });
  methods(AbortSignal, {
    abort: function abort(reason) { var s = newSignal(); abortSignal(s, reason); return s; },
    timeout: function timeout(ms) {
      var s = newSignal();
      G.setTimeout(function () {
        abortSignal(s, new DOMException("The operation was aborted due to timeout", "TimeoutError"));
      }, ms);
      return s;
    },
    any: function any(signals) {
      var s = newSignal();
      Array.from(signals).forEach(function (other) {
        if (other.aborted) abortSignal(s, other.reason);
        else other.addEventListener("abort", function () { abortSignal(s, other.reason); });
      });
      return s;
    },
  });

  function AbortController() {
    needNew(new.target, "AbortController");
    define(this, "signal", newSignal());
  }
  methods(AbortController.prototype, {
    abort: function abort(reason) { abortSignal(this.signal, reason); },
  });

  // ---- process, setImmediate --------------------------------------------------------------------
  var started = Date.now();
  var process = {};
  define(process, "env", {}, true);  // a function sees no environment variables of the host
  define(process, "argv", [], true);
  define(process, "platform", "linux", true);
  define(process, "arch", "x64", true);
  define(process, "version", "v20.20.2", true);
  define(process, "versions", { node: "20.20.2" }, true);
  define(process, "pid", 1, true);
  methods(process, {
    cwd: function cwd() { return "/"; },
    uptime: function uptime() { return (Date.now() - started) / 1000; },
    nextTick: function nextTick(callback) {
      var args = Array.prototype.slice.call(arguments, 1);
      G.queueMicrotask(function () { callback.apply(undefined, args); });
    },
    hrtime: Object.assign(function hrtime(previous) {
      var now = G.performance.now();
      var seconds = Math.floor(now / 1000);
      var nanos = Math.floor((now % 1000) * 1e6);
      if (previous) {
        seconds -= previous[0];
        nanos -= previous[1];
        if (nanos < 0) { seconds--; nanos += 1e9; }
      }
      return [seconds, nanos];
    }, { bigint: function bigint() { return BigInt(Math.floor(G.performance.now() * 1e6)); } }),
    exit: function exit() { throw new Error("process.exit() is not available in cloud functions"); },
    on: function on() { return process; },
    emitWarning: function emitWarning() {},
  });

  function setImmediate(callback) {
    var args = Array.prototype.slice.call(arguments, 1);
    return G.setTimeout.apply(undefined, [callback, 0].concat(args));
  }
  function clearImmediate(id) { G.clearTimeout(id); }

  return {
    process: process, Buffer: Buffer, URL: URL, URLSearchParams: URLSearchParams, TextEncoder: TextEncoder,
    TextDecoder: TextDecoder, structuredClone: structuredClone, crypto: crypto, DOMException: DOMException,
    Event: Event, EventTarget: EventTarget, AbortController: AbortController, AbortSignal: AbortSignal,
    setImmediate: setImmediate, clearImmediate: clearImmediate,
  };
})();
