// Locale support for the embedded engine: `Intl` and the locale-aware methods of Number, BigInt, Date,
// String and Array, for the locale the real runner answers in (Node with full ICU, default locale en-US).
//
// QuickJS is built without ICU, so it has no `Intl` and its toLocaleString methods ignore locales
// and options. This file gives scripts what Noodl users write: numbers, currencies, percents, dates,
// sorting, plurals, relative times and lists, formatted with en-US (CLDR) rules. Every locale
// argument is accepted and resolves to "en-US", as Node built with the small ICU does. Time zones:
// the host's local time, UTC, fixed offsets and the common named zones of ZONES below; other zone
// names throw a RangeError (the engine has no zone database). docs/runtime-javascript.md lists what
// differs from Node.
//
// This is the body of a function, compiled only when a script first uses one of these (parsing it in
// every new context doubled the cost of making one): intl-lazy.js installs small stand-ins that call
// it then, and freezes what it returns. It returns the Intl object and the methods.
"use strict";

  var LOCALE = "en-US";
  var defineProperty = Object.defineProperty;

  function method(target, name, fn) {
    defineProperty(target, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }

  function checkLocales(locales) {
    // Node throws for a tag that is not well formed; the sidecar answers in en-US for every valid one.
    var list = locales === undefined ? [] : typeof locales === "string" ? [locales] : Array.prototype.slice.call(Object(locales));
    list.forEach(function (tag) {
      if (typeof tag !== "string" && (typeof tag !== "object" || tag === null)) {
        throw new TypeError("Language ID should be string or object.");
      }
      if (!/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(String(tag))) {
        throw new RangeError("Incorrect locale information provided");
      }
    });
    return list;
  }

  function canonicalTag(tag) {
    var parts = String(tag).split("-");
    return parts.map(function (part, i) {
      if (i === 0) return part.toLowerCase();
      if (part.length === 2) return part.toUpperCase();
      if (part.length === 4) return part.charAt(0).toUpperCase() + part.slice(1).toLowerCase();
      return part.toLowerCase();
    }).join("-");
  }

  function options(value) {
    if (value === undefined) return Object.create(null);
    if (value === null) throw new TypeError("Cannot convert undefined or null to object");
    return Object(value);
  }

  function pick(opts, name, allowed, fallback) {
    var value = opts[name];
    if (value === undefined) return fallback;
    if (typeof allowed === "string") {  // "boolean"
      return Boolean(value);
    }
    value = String(value);
    if (allowed.indexOf(value) < 0) {
      throw new RangeError("Value " + value + " out of range for Intl options property " + name);
    }
    return value;
  }

  function pickNumber(opts, name, min, max, fallback) {
    var value = opts[name];
    if (value === undefined) return fallback;
    value = Number(value);
    if (!(value >= min && value <= max)) throw new RangeError(name + " value is out of range.");
    return Math.floor(value);
  }

  // ---- decimal digits -----------------------------------------------------------------------------------
  // A finite number as its shortest decimal digits (what String(x) shows) and the position of the
  // decimal point in them: ICU rounds that decimal, so 1.005 rounds to 1.01 as in Node.
  function decimal(x) {
    var text = Math.abs(x).toExponential();
    var e = text.indexOf("e");
    var digits = text.slice(0, e).replace(".", "");
    var point = Number(text.slice(e + 1)) + 1;
    return trim({ digits: digits, point: point });
  }

  function trim(d) {
    var digits = d.digits.replace(/0+$/, "");
    var lead = digits.match(/^0*/)[0].length;
    if (lead === digits.length) return { digits: "", point: 1 };
    return { digits: digits.slice(lead), point: d.point - lead };
  }

  function roundAt(d, keep) {
    // Keep ``keep`` leading digits, rounding half away from zero (ICU's default halfExpand).
    if (keep >= d.digits.length) return d;
    if (keep < 0) return { digits: "", point: 1 };
    var up = d.digits.charCodeAt(keep) >= 53;
    var kept = d.digits.slice(0, keep).split("").map(Number);
    var point = d.point;
    if (up) {
      var i = kept.length - 1;
      while (i >= 0 && kept[i] === 9) { kept[i] = 0; i--; }
      if (i >= 0) kept[i]++;
      else { kept.unshift(1); point++; }
    }
    return trim({ digits: kept.join(""), point: point });
  }

  function isZero(d) { return d.digits === ""; }

  function integerDigits(d) {
    if (isZero(d) || d.point <= 0) return "0";
    var s = d.digits.slice(0, d.point);
    while (s.length < d.point) s += "0";
    return s;
  }

  function fractionDigits(d) {
    if (isZero(d) || d.point >= d.digits.length) return "";
    if (d.point >= 0) return d.digits.slice(d.point);
    return new Array(-d.point + 1).join("0") + d.digits;
  }

  // ---- NumberFormat -------------------------------------------------------------------------------------
  var CURRENCY_DIGITS = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, UGX: 0, PYG: 0, XAF: 0, XOF: 0,
    BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3, IQD: 0, LYD: 3 };
  var CURRENCY_SYMBOLS = { USD: "$", EUR: "€", GBP: "£", JPY: "¥", INR: "₹", CNY: "CN¥", CAD: "CA$",
    AUD: "A$", KRW: "₩", BRL: "R$", MXN: "MX$", HKD: "HK$", NZD: "NZ$", ILS: "₪", VND: "₫", TWD: "NT$",
    XAF: "FCFA", XOF: "F\u202FCFA", PHP: "₱" };
  var NARROW_SYMBOLS = { CAD: "$", AUD: "$", MXN: "$", HKD: "$", NZD: "$", TWD: "$", CNY: "¥", BRL: "R$",
    SEK: "kr", NOK: "kr", DKK: "kr", CHF: "CHF", RUB: "₽", PLN: "zł", TRY: "₺", UAH: "₴", THB: "฿", ZAR: "R" };
  var CURRENCY_NAMES = { USD: ["US dollar", "US dollars"], EUR: ["euro", "euros"],
    GBP: ["British pound", "British pounds"], JPY: ["Japanese yen", "Japanese yen"],
    CAD: ["Canadian dollar", "Canadian dollars"], AUD: ["Australian dollar", "Australian dollars"],
    CHF: ["Swiss franc", "Swiss francs"], CNY: ["Chinese yuan", "Chinese yuan"],
    INR: ["Indian rupee", "Indian rupees"], SEK: ["Swedish krona", "Swedish kronor"],
    NOK: ["Norwegian krone", "Norwegian kroner"], DKK: ["Danish krone", "Danish kroner"],
    MXN: ["Mexican peso", "Mexican pesos"], BRL: ["Brazilian real", "Brazilian reals"] };
  // unit: [short singular, short plural, long singular, long plural, narrow]; "{0}" is the number.
  var UNITS = {
    kilometer: ["{0} km", "{0} km", "{0} kilometer", "{0} kilometers", "{0}km"],
    meter: ["{0} m", "{0} m", "{0} meter", "{0} meters", "{0}m"],
    centimeter: ["{0} cm", "{0} cm", "{0} centimeter", "{0} centimeters", "{0}cm"],
    millimeter: ["{0} mm", "{0} mm", "{0} millimeter", "{0} millimeters", "{0}mm"],
    mile: ["{0} mi", "{0} mi", "{0} mile", "{0} miles", "{0}mi"],
    foot: ["{0} ft", "{0} ft", "{0} foot", "{0} feet", "{0}′"],
    inch: ["{0} in", "{0} in", "{0} inch", "{0} inches", "{0}″"],
    kilogram: ["{0} kg", "{0} kg", "{0} kilogram", "{0} kilograms", "{0}kg"],
    gram: ["{0} g", "{0} g", "{0} gram", "{0} grams", "{0}g"],
    pound: ["{0} lb", "{0} lb", "{0} pound", "{0} pounds", "{0}#"],
    liter: ["{0} L", "{0} L", "{0} liter", "{0} liters", "{0}L"],
    milliliter: ["{0} mL", "{0} mL", "{0} milliliter", "{0} milliliters", "{0}mL"],
    second: ["{0} sec", "{0} sec", "{0} second", "{0} seconds", "{0}s"],
    minute: ["{0} min", "{0} min", "{0} minute", "{0} minutes", "{0}m"],
    hour: ["{0} hr", "{0} hr", "{0} hour", "{0} hours", "{0}h"],
    day: ["{0} day", "{0} days", "{0} day", "{0} days", "{0}d"],
    week: ["{0} wk", "{0} wks", "{0} week", "{0} weeks", "{0}w"],
    month: ["{0} mth", "{0} mths", "{0} month", "{0} months", "{0}m"],
    year: ["{0} yr", "{0} yrs", "{0} year", "{0} years", "{0}y"],
    percent: ["{0}%", "{0}%", "{0} percent", "{0} percent", "{0}%"],
    celsius: ["{0}°C", "{0}°C", "{0} degree Celsius", "{0} degrees Celsius", "{0}°C"],
    fahrenheit: ["{0}°F", "{0}°F", "{0} degree Fahrenheit", "{0} degrees Fahrenheit", "{0}°"],
    byte: ["{0} byte", "{0} byte", "{0} byte", "{0} bytes", "{0}B"],
    kilobyte: ["{0} kB", "{0} kB", "{0} kilobyte", "{0} kilobytes", "{0}kB"],
    megabyte: ["{0} MB", "{0} MB", "{0} megabyte", "{0} megabytes", "{0}MB"],
    gigabyte: ["{0} GB", "{0} GB", "{0} gigabyte", "{0} gigabytes", "{0}GB"],
    "kilometer-per-hour": ["{0} km/h", "{0} km/h", "{0} kilometer per hour", "{0} kilometers per hour", "{0}km/h"],
    "mile-per-hour": ["{0} mph", "{0} mph", "{0} mile per hour", "{0} miles per hour", "{0}mph"],
    "meter-per-second": ["{0} m/s", "{0} m/s", "{0} meter per second", "{0} meters per second", "{0}m/s"],
  };
  var COMPACT_SHORT = ["", "K", "M", "B", "T"];
  var COMPACT_LONG = ["", " thousand", " million", " billion", " trillion"];

  function resolveNumberOptions(locales, raw) {
    checkLocales(locales);
    var opts = options(raw);
    var r = { locale: LOCALE, numberingSystem: "latn" };
    r.style = pick(opts, "style", ["decimal", "percent", "currency", "unit"], "decimal");
    var currency = opts.currency;
    if (currency !== undefined && !/^[A-Za-z]{3}$/.test(String(currency))) {
      throw new RangeError("Invalid currency code : " + currency);
    }
    var unit = opts.unit;
    if (r.style === "currency") {
      if (currency === undefined) throw new TypeError("Currency code is required with currency style.");
      r.currency = String(currency).toUpperCase();
      r.currencyDisplay = pick(opts, "currencyDisplay", ["code", "symbol", "narrowSymbol", "name"], "symbol");
      r.currencySign = pick(opts, "currencySign", ["standard", "accounting"], "standard");
    }
    if (r.style === "unit") {
      if (unit === undefined) throw new TypeError("Unit is required with unit style.");
      unit = String(unit);
      if (!UNITS[unit] && !/^[a-z]+(-per-[a-z]+)?$/.test(unit)) throw new RangeError("Invalid unit argument for Intl.NumberFormat() '" + unit + "'");
      r.unit = unit;
      r.unitDisplay = pick(opts, "unitDisplay", ["short", "narrow", "long"], "short");
    }
    r.minimumIntegerDigits = pickNumber(opts, "minimumIntegerDigits", 1, 21, 1);
    var defaultMin = 0;
    var defaultMax = 3;
    if (r.style === "currency") {
      var digits = CURRENCY_DIGITS[r.currency];
      defaultMin = defaultMax = digits === undefined ? 2 : digits;
    } else if (r.style === "percent") {
      defaultMax = 0;
    }
    r.notation = pick(opts, "notation", ["standard", "scientific", "engineering", "compact"], "standard");
    if (r.notation === "compact") r.compactDisplay = pick(opts, "compactDisplay", ["short", "long"], "short");
    var minSD = opts.minimumSignificantDigits;
    var maxSD = opts.maximumSignificantDigits;
    var minFD = opts.minimumFractionDigits;
    var maxFD = opts.maximumFractionDigits;
    r.significant = minSD !== undefined || maxSD !== undefined;
    r.compactRounding = r.notation === "compact" && !r.significant && minFD === undefined && maxFD === undefined;
    if (r.significant) {
      r.minimumSignificantDigits = pickNumber(opts, "minimumSignificantDigits", 1, 21, 1);
      r.maximumSignificantDigits = pickNumber(opts, "maximumSignificantDigits", r.minimumSignificantDigits, 21, 21);
    }
    {
      if (r.notation === "compact" && r.compactRounding) { defaultMin = 0; defaultMax = 0; }
      var mn = pickNumber(opts, "minimumFractionDigits", 0, 100, undefined);
      var mx = pickNumber(opts, "maximumFractionDigits", 0, 100, undefined);
      if (mn === undefined && mx === undefined) { mn = defaultMin; mx = defaultMax; }
      else if (mn === undefined) mn = Math.min(defaultMin, mx);
      else if (mx === undefined) mx = Math.max(defaultMax, mn);
      else if (mn > mx) throw new RangeError("maximumFractionDigits value is out of range.");
      r.minimumFractionDigits = mn;
      r.maximumFractionDigits = mx;
    }
    var grouping = opts.useGrouping;
    var groupingDefault = r.notation === "compact" ? "min2" : "auto";
    if (grouping === undefined) r.useGrouping = groupingDefault;
    else if (grouping === true || grouping === "true") r.useGrouping = "always";
    else if (grouping === false || grouping === "false" || grouping === null || grouping === "") r.useGrouping = false;
    else r.useGrouping = pick(opts, "useGrouping", ["min2", "auto", "always"], groupingDefault);
    r.signDisplay = pick(opts, "signDisplay", ["auto", "never", "always", "exceptZero", "negative"], "auto");
    r.roundingMode = "halfExpand";
    return r;
  }

  function group(intDigits, mode) {
    if (mode === false || intDigits.length <= 3) return [intDigits];
    if (mode === "min2" && intDigits.length < 5) return [intDigits];
    var groups = [];
    var end = intDigits.length;
    while (end > 3) { groups.unshift(intDigits.slice(end - 3, end)); end -= 3; }
    groups.unshift(intDigits.slice(0, end));
    return groups;
  }

  function roundDigits(d, r) {
    if (r.significant) {
      var rounded = roundAt(d, r.maximumSignificantDigits);
      return { d: rounded, minFraction: Math.max(0, r.minimumSignificantDigits - rounded.point) };
    }
    return { d: roundAt(d, d.point + r.maximumFractionDigits), minFraction: r.minimumFractionDigits };
  }

  function compactRound(d) {
    // ICU's compact rounding without digit options: integers once two or more integer digits, else 2
    // significant digits.
    return d.point >= 2 ? roundAt(d, d.point) : roundAt(d, 2);
  }

  function numberParts(r, x) {
    // The parts of one number (finite or not) without sign, currency or unit.
    var parts = [];
    if (x !== x) { parts.push(["nan", "NaN"]); return { parts: parts, zero: false }; }
    if (x === Infinity || x === -Infinity) { parts.push(["infinity", "∞"]); return { parts: parts, zero: false }; }
    var d = typeof x === "bigint" ? trim({ digits: (x < 0n ? -x : x).toString(), point: (x < 0n ? -x : x).toString().length }) : decimal(x);
    if (r.style === "percent") d = isZero(d) ? d : { digits: d.digits, point: d.point + 2 };
    var exponent = null;
    var compact = 0;
    var minFraction = r.minimumFractionDigits;
    if (r.notation === "scientific" || r.notation === "engineering") {
      var e = isZero(d) ? 0 : d.point - 1;
      if (r.notation === "engineering") e = Math.floor(e / 3) * 3;
      var m = { digits: d.digits, point: d.point - e };
      var rm = roundDigits(m, r);
      if (!isZero(rm.d) && rm.d.point - 1 > (r.notation === "engineering" ? 2 : 0)) {
        e += r.notation === "engineering" ? 3 : 1;
        rm = roundDigits({ digits: d.digits, point: d.point - e }, r);
      }
      d = rm.d;
      minFraction = rm.minFraction;
      exponent = e;
    } else if (r.notation === "compact") {
      for (var attempt = 0; attempt < 2; attempt++) {
        compact = isZero(d) || d.point <= 3 ? 0 : Math.min(4, Math.floor((d.point - 1) / 3));
        var scaled = { digits: d.digits, point: d.point - compact * 3 };
        var rc = r.compactRounding ? { d: compactRound(scaled), minFraction: 0 } : roundDigits(scaled, r);
        if (compact < 4 && rc.d.point > 3 && !isZero(rc.d)) {
          d = { digits: rc.d.digits, point: rc.d.point + compact * 3 };
          continue;
        }
        d = rc.d;
        minFraction = rc.minFraction;
        break;
      }
    } else {
      var rs = roundDigits(d, r);
      d = rs.d;
      minFraction = rs.minFraction;
    }
    var intPart = integerDigits(d);
    while (intPart.length < r.minimumIntegerDigits) intPart = "0" + intPart;
    var fraction = fractionDigits(d);
    while (fraction.length < minFraction) fraction += "0";
    group(intPart, r.useGrouping).forEach(function (g, i) {
      if (i > 0) parts.push(["group", ","]);
      parts.push(["integer", g]);
    });
    if (fraction) { parts.push(["decimal", "."]); parts.push(["fraction", fraction]); }
    if (exponent !== null) {
      parts.push(["exponentSeparator", "E"]);
      if (exponent < 0) parts.push(["exponentMinusSign", "-"]);
      parts.push(["exponentInteger", String(Math.abs(exponent))]);
    }
    if (compact) parts.push(["compact", (r.compactDisplay === "long" ? COMPACT_LONG : COMPACT_SHORT)[compact].trim()]);
    if (compact && r.compactDisplay === "long") parts.splice(parts.length - 1, 0, ["literal", " "]);
    return { parts: parts, zero: isZero(d) };
  }

  function toNumeric(value) {
    if (typeof value === "bigint") return value;
    if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value) && value.trim().replace("-", "").length > 15) {
      try { return BigInt(value.trim()); } catch (e) { /* falls through to Number */ }
    }
    return Number(value);
  }

  function formatNumberToParts(r, value) {
    var x = toNumeric(value);
    var negative = typeof x === "bigint" ? x < 0n : x < 0 || Object.is(x, -0);
    var body = numberParts(r, x);
    var sign = "";
    switch (r.signDisplay) {
      case "auto": sign = negative ? "-" : ""; break;
      case "always": sign = negative ? "-" : "+"; break;
      case "exceptZero": sign = body.zero ? "" : negative ? "-" : "+"; break;
      case "negative": sign = negative && !body.zero ? "-" : ""; break;
      default: sign = "";
    }
    var parts = [];
    var accounting = r.style === "currency" && r.currencySign === "accounting" && sign === "-";
    if (accounting) parts.push(["literal", "("]);
    else if (sign) parts.push([sign === "-" ? "minusSign" : "plusSign", sign]);
    var plural = pluralOf(body.parts);
    if (r.style === "currency") {
      var code = r.currency;
      if (r.currencyDisplay === "name") {
        var names = CURRENCY_NAMES[code] || [code, code];
        parts = parts.concat(body.parts, [["literal", " "], ["currency", plural === "one" ? names[0] : names[1]]]);
      } else {
        var symbol = r.currencyDisplay === "code" ? code
          : (r.currencyDisplay === "narrowSymbol" && NARROW_SYMBOLS[code]) || CURRENCY_SYMBOLS[code] || code;
        parts.push(["currency", symbol]);
        if (/[A-Za-z]$/.test(symbol)) parts.push(["literal", "\u00A0"]);
        parts = parts.concat(body.parts);
      }
    } else if (r.style === "unit") {
      var forms = UNITS[r.unit];
      var pattern = !forms ? "{0} " + r.unit
        : r.unitDisplay === "long" ? forms[plural === "one" ? 2 : 3]
        : r.unitDisplay === "narrow" ? forms[4] : forms[plural === "one" ? 0 : 1];
      var at = pattern.indexOf("{0}");
      if (at > 0) parts.push(["literal", pattern.slice(0, at)]);
      parts = parts.concat(body.parts);
      var rest = pattern.slice(at + 3);
      if (rest) {
        var space = rest.match(/^\s*/)[0];
        if (space) parts.push(["literal", space]);
        parts.push(["unit", rest.slice(space.length)]);
      }
    } else {
      parts = parts.concat(body.parts);
      if (r.style === "percent") parts.push(["percentSign", "%"]);
    }
    if (accounting) parts.push(["literal", ")"]);
    return parts;
  }

  function pluralOf(parts) {
    var text = "";
    parts.forEach(function (p) { if (p[0] === "integer" || p[0] === "decimal" || p[0] === "fraction") text += p[1]; });
    return text === "1" ? "one" : "other";
  }

  function joinParts(parts) {
    var s = "";
    for (var i = 0; i < parts.length; i++) s += parts[i][1];
    return s;
  }

  function partObjects(parts) {
    return parts.map(function (p) { return { type: p[0], value: p[1] }; });
  }

  var NUMBER_OPTION_ORDER = ["locale", "numberingSystem", "style", "currency", "currencyDisplay", "currencySign",
    "unit", "unitDisplay", "minimumIntegerDigits", "minimumFractionDigits", "maximumFractionDigits",
    "minimumSignificantDigits", "maximumSignificantDigits", "useGrouping", "notation", "compactDisplay",
    "signDisplay", "roundingMode"];

  function NumberFormat(locales, opts) {
    if (!(this instanceof NumberFormat)) return new NumberFormat(locales, opts);
    var r = resolveNumberOptions(locales, opts);
    defineProperty(this, "__r", { value: r });
  }
  defineProperty(NumberFormat.prototype, "format", {
    configurable: true,
    get: function () {
      var r = this.__r;
      return function (value) { return joinParts(formatNumberToParts(r, value)); };
    },
  });
  method(NumberFormat.prototype, "formatToParts", function (value) {
    return partObjects(formatNumberToParts(this.__r, value));
  });
  method(NumberFormat.prototype, "formatRange", function (a, b) {
    return this.format(a) + "–" + this.format(b);
  });
  method(NumberFormat.prototype, "resolvedOptions", function () {
    var r = this.__r;
    var out = {};
    NUMBER_OPTION_ORDER.forEach(function (k) {
      if (r[k] !== undefined && (k.indexOf("Significant") < 0 || r.significant)) out[k] = r[k];
    });
    out.roundingIncrement = 1;
    out.trailingZeroDisplay = "auto";
    out.roundingPriority = "auto";
    return out;
  });

  // ---- DateTimeFormat -----------------------------------------------------------------------------------
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  var WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  var DATE_FIELDS = ["weekday", "era", "year", "month", "day"];
  var TIME_FIELDS = ["hour", "minute", "second", "fractionalSecondDigits"];

  function utcZoneName(name) {
    return /^(Etc\/)?(UTC|GMT|UCT|Universal|Zulu|Greenwich)(\+0|-0|0)?$/i.test(name);
  }

  // Named zones scripts commonly use, with today's rules (the engine has no zone database): standard
  // offset in minutes east of UTC, daylight-saving rule, then CLDR en's short and long names (standard,
  // daylight; a missing short name is written GMT±h). Rules: US since 2007, EU since 1996, southern
  // Australia since 2008, New Zealand since 2007; older dates in those zones may be an hour off.
  var ZONES = {
    "America/New_York": [-300, "US", "EST", "EDT", "Eastern Standard Time", "Eastern Daylight Time"],
    "America/Toronto": [-300, "US", "EST", "EDT", "Eastern Standard Time", "Eastern Daylight Time"],
    "America/Chicago": [-360, "US", "CST", "CDT", "Central Standard Time", "Central Daylight Time"],
    "America/Denver": [-420, "US", "MST", "MDT", "Mountain Standard Time", "Mountain Daylight Time"],
    "America/Phoenix": [-420, null, "MST", "MST", "Mountain Standard Time", "Mountain Standard Time"],
    "America/Los_Angeles": [-480, "US", "PST", "PDT", "Pacific Standard Time", "Pacific Daylight Time"],
    "America/Vancouver": [-480, "US", "PST", "PDT", "Pacific Standard Time", "Pacific Daylight Time"],
    "America/Anchorage": [-540, "US", "AKST", "AKDT", "Alaska Standard Time", "Alaska Daylight Time"],
    "Pacific/Honolulu": [-600, null, "HST", "HST", "Hawaii-Aleutian Standard Time", "Hawaii-Aleutian Standard Time"],
    "America/Mexico_City": [-360, null, "CST", "CST", "Central Standard Time", "Central Standard Time"],
    "America/Sao_Paulo": [-180, null, null, null, "Brasilia Standard Time", "Brasilia Standard Time"],
    "America/Buenos_Aires": [-180, null, null, null, "Argentina Standard Time", "Argentina Standard Time"],
    "America/Bogota": [-300, null, null, null, "Colombia Standard Time", "Colombia Standard Time"],
    "America/Lima": [-300, null, null, null, "Peru Standard Time", "Peru Standard Time"],
    "Europe/London": [0, "EU", "GMT", null, "Greenwich Mean Time", "British Summer Time"],
    "Europe/Dublin": [0, "EU", "GMT", null, "Greenwich Mean Time", "Irish Standard Time"],
    "Europe/Lisbon": [0, "EU", "GMT+0", null, "Western European Standard Time", "Western European Summer Time"],
    "Europe/Paris": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Berlin": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Madrid": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Rome": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Amsterdam": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Brussels": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Vienna": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Zurich": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Stockholm": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Oslo": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Copenhagen": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Warsaw": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Prague": [60, "EU", null, null, "Central European Standard Time", "Central European Summer Time"],
    "Europe/Helsinki": [120, "EU", null, null, "Eastern European Standard Time", "Eastern European Summer Time"],
    "Europe/Athens": [120, "EU", null, null, "Eastern European Standard Time", "Eastern European Summer Time"],
    "Europe/Kiev": [120, "EU", null, null, "Eastern European Standard Time", "Eastern European Summer Time"],
    "Europe/Istanbul": [180, null, null, null, "Türkiye Standard Time", "Türkiye Standard Time"],
    "Europe/Moscow": [180, null, null, null, "Moscow Standard Time", "Moscow Standard Time"],
    "Asia/Dubai": [240, null, null, null, "Gulf Standard Time", "Gulf Standard Time"],
    "Asia/Karachi": [300, null, null, null, "Pakistan Standard Time", "Pakistan Standard Time"],
    "Asia/Calcutta": [330, null, null, null, "India Standard Time", "India Standard Time"],
    "Asia/Dhaka": [360, null, null, null, "Bangladesh Standard Time", "Bangladesh Standard Time"],
    "Asia/Bangkok": [420, null, null, null, "Indochina Time", "Indochina Time"],
    "Asia/Jakarta": [420, null, null, null, "Western Indonesia Time", "Western Indonesia Time"],
    "Asia/Singapore": [480, null, null, null, "Singapore Standard Time", "Singapore Standard Time"],
    "Asia/Shanghai": [480, null, null, null, "China Standard Time", "China Standard Time"],
    "Asia/Hong_Kong": [480, null, null, null, "Hong Kong Standard Time", "Hong Kong Standard Time"],
    "Asia/Taipei": [480, null, null, null, "Taiwan Standard Time", "Taiwan Standard Time"],
    "Asia/Manila": [480, null, null, null, "Philippine Standard Time", "Philippine Standard Time"],
    "Asia/Tokyo": [540, null, null, null, "Japan Standard Time", "Japan Standard Time"],
    "Asia/Seoul": [540, null, null, null, "Korean Standard Time", "Korean Standard Time"],
    "Asia/Riyadh": [180, null, null, null, "Arabian Standard Time", "Arabian Standard Time"],
    "Asia/Tehran": [210, null, null, null, "Iran Standard Time", "Iran Standard Time"],
    "Australia/Perth": [480, null, null, null, "Australian Western Standard Time", "Australian Western Standard Time"],
    "Australia/Brisbane": [600, null, null, null, "Australian Eastern Standard Time", "Australian Eastern Standard Time"],
    "Australia/Adelaide": [570, "AU", null, null, "Australian Central Standard Time", "Australian Central Daylight Time"],
    "Australia/Sydney": [600, "AU", null, null, "Australian Eastern Standard Time", "Australian Eastern Daylight Time"],
    "Australia/Melbourne": [600, "AU", null, null, "Australian Eastern Standard Time", "Australian Eastern Daylight Time"],
    "Pacific/Auckland": [720, "NZ", null, null, "New Zealand Standard Time", "New Zealand Daylight Time"],
    "Africa/Johannesburg": [120, null, null, null, "South Africa Standard Time", "South Africa Standard Time"],
    "Africa/Lagos": [60, null, null, null, "West Africa Time", "West Africa Time"],
    "Africa/Nairobi": [180, null, null, null, "East Africa Time", "East Africa Time"],
  };
  var ZONE_ALIASES = { "asia/kolkata": "Asia/Calcutta", "america/argentina/buenos_aires": "America/Buenos_Aires",
    "europe/kyiv": "Europe/Kiev" };
  var ZONES_BY_LOWER = Object.create(null);
  Object.keys(ZONES).forEach(function (zoneName) { ZONES_BY_LOWER[zoneName.toLowerCase()] = zoneName; });

  function sundayOf(year, month, n) {
    // The day of month of the n-th Sunday (n = -1: the last) of ``month`` (0-based).
    if (n > 0) return 1 + (7 - new Date(Date.UTC(year, month, 1)).getUTCDay()) % 7 + 7 * (n - 1);
    var last = new Date(Date.UTC(year, month + 1, 0));
    return last.getUTCDate() - last.getUTCDay();
  }

  function inDaylightTime(rule, std, time) {
    var year = new Date(time + std * 60000).getUTCFullYear();
    var at = function (month, day, hour, offset) { return Date.UTC(year, month, day, hour) - offset * 60000; };
    switch (rule) {
      case "US":  // second Sunday of March 2:00 → first Sunday of November 2:00, local time
        return time >= at(2, sundayOf(year, 2, 2), 2, std) && time < at(10, sundayOf(year, 10, 1), 2, std + 60);
      case "EU":  // last Sunday of March → last Sunday of October, 1:00 UTC
        return time >= at(2, sundayOf(year, 2, -1), 1, 0) && time < at(9, sundayOf(year, 9, -1), 1, 0);
      case "AU":  // first Sunday of October 2:00 → first Sunday of April 3:00, local time
        return time >= at(9, sundayOf(year, 9, 1), 2, std) || time < at(3, sundayOf(year, 3, 1), 3, std + 60);
      case "NZ":  // last Sunday of September 2:00 → first Sunday of April 3:00, local time
        return time >= at(8, sundayOf(year, 8, -1), 2, std) || time < at(3, sundayOf(year, 3, 1), 3, std + 60);
      default:
        return false;
    }
  }

  function resolveZone(name) {
    // {name, offset, rules}: offset in minutes east of UTC, or null for the host's local time; rules
    // (an entry of ZONES) when the offset depends on the date.
    if (name === undefined) return { name: hostZoneName(), offset: null };
    name = String(name);
    if (utcZoneName(name)) return { name: "UTC", offset: 0 };
    var known = ZONE_ALIASES[name.toLowerCase()] || ZONES_BY_LOWER[name.toLowerCase()];
    if (known) return { name: known, offset: ZONES[known][0], rules: ZONES[known] };
    var etc = name.match(/^Etc\/GMT([+-])(\d{1,2})$/i);
    if (etc && Number(etc[2]) <= 14) {
      return { name: "Etc/GMT" + etc[1] + Number(etc[2]), offset: (etc[1] === "+" ? -60 : 60) * Number(etc[2]) };
    }
    var fixed = name.match(/^([+-])(\d{2}):?(\d{2})$/);
    if (fixed && Number(fixed[2]) <= 23 && Number(fixed[3]) <= 59) {
      var minutes = Number(fixed[2]) * 60 + Number(fixed[3]);
      return { name: fixed[1] + fixed[2] + ":" + fixed[3], offset: fixed[1] === "-" ? -minutes : minutes };
    }
    if (name === hostZoneName()) return { name: name, offset: null };
    throw new RangeError("Invalid time zone specified: " + name +
      " (the sidecar's engine knows the host's zone, UTC, fixed offsets and the common zones listed in" +
      " docs/runtime-javascript.md)");
  }

  function hostZoneName() {
    var jan = new Date(2024, 0, 1).getTimezoneOffset();
    var jul = new Date(2024, 6, 1).getTimezoneOffset();
    if (jan === 0 && jul === 0) return "UTC";
    if (jan === jul && jan % 60 === 0) return "Etc/GMT" + (jan > 0 ? "+" : "-") + Math.abs(jan / 60);
    return "Etc/Unknown";
  }

  function fieldsOf(time, zone) {
    // The calendar fields of ``time`` (ms) in ``zone``.
    var offset = zone.offset === null ? -new Date(time).getTimezoneOffset() : zone.offset;
    var daylight = zone.rules ? inDaylightTime(zone.rules[1], zone.offset, time) : false;
    if (daylight) offset += 60;
    var d = new Date(time + offset * 60000);
    return {
      year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), weekday: d.getUTCDay(),
      hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), ms: d.getUTCMilliseconds(),
      offset: offset, rules: zone.rules || null, daylight: daylight,
    };
  }

  function resolveDateOptions(locales, raw, required, defaults) {
    checkLocales(locales);
    var opts = options(raw);
    var r = { locale: LOCALE, calendar: "gregory", numberingSystem: "latn" };
    var hour12 = opts.hour12;
    var hourCycle = pick(opts, "hourCycle", ["h11", "h12", "h23", "h24"], undefined);
    r.timeZone = resolveZone(opts.timeZone);
    var TEXT = ["narrow", "short", "long"];
    var NUM = ["numeric", "2-digit"];
    r.weekday = pick(opts, "weekday", TEXT, undefined);
    r.era = pick(opts, "era", TEXT, undefined);
    r.year = pick(opts, "year", NUM, undefined);
    r.month = pick(opts, "month", NUM.concat(TEXT), undefined);
    r.day = pick(opts, "day", NUM, undefined);
    r.hour = pick(opts, "hour", NUM, undefined);
    r.minute = pick(opts, "minute", NUM, undefined);
    r.second = pick(opts, "second", NUM, undefined);
    r.fractionalSecondDigits = pickNumber(opts, "fractionalSecondDigits", 1, 3, undefined);
    r.timeZoneName = pick(opts, "timeZoneName", ["short", "long", "shortOffset", "longOffset", "shortGeneric", "longGeneric"], undefined);
    r.dateStyle = pick(opts, "dateStyle", ["full", "long", "medium", "short"], undefined);
    r.timeStyle = pick(opts, "timeStyle", ["full", "long", "medium", "short"], undefined);
    var anyField = DATE_FIELDS.concat(TIME_FIELDS, ["timeZoneName"]).some(function (k) { return r[k] !== undefined; });
    if ((r.dateStyle || r.timeStyle) && anyField) {
      throw new TypeError("Can't set option " + DATE_FIELDS.concat(TIME_FIELDS, ["timeZoneName"]).filter(function (k) {
        return r[k] !== undefined; })[0] + " when " + (r.dateStyle ? "dateStyle" : "timeStyle") + " is used");
    }
    // ECMA-402 ToDateTimeOptions: defaults only when no field of the kinds ``required`` names is set.
    var needDefaults = !r.dateStyle && !r.timeStyle;
    if (required !== "time" && ["weekday", "year", "month", "day"].some(function (k) { return r[k] !== undefined; })) needDefaults = false;
    if (required !== "date" && ["hour", "minute", "second", "fractionalSecondDigits"].some(function (k) { return r[k] !== undefined; })) needDefaults = false;
    if (needDefaults && (defaults === "date" || defaults === "all")) r.year = r.month = r.day = "numeric";
    if (needDefaults && (defaults === "time" || defaults === "all")) r.hour = r.minute = r.second = "numeric";
    var usesHour = r.hour !== undefined || r.timeStyle !== undefined;
    if (usesHour) {
      if (hour12 !== undefined) r.hourCycle = hour12 ? "h12" : "h24";  // V8: false on an h12 locale is h24
      else r.hourCycle = hourCycle || "h12";
      r.hour12 = r.hourCycle === "h11" || r.hourCycle === "h12";
    }
    return r;
  }

  function pad2(n) { return n < 10 ? "0" + n : String(n); }

  function zoneText(f, style) {
    if (f.rules && (style === "short" || style === "long")) {
      var named = f.rules[(style === "short" ? 2 : 4) + (f.daylight ? 1 : 0)];
      if (named) return named;
    } else if (f.offset === 0 && !f.rules) {
      return style === "long" ? "Coordinated Universal Time" : "UTC";
    }
    var sign = f.offset < 0 ? "-" : "+";
    var abs = Math.abs(f.offset);
    var h = Math.floor(abs / 60);
    var m = abs % 60;
    if (style === "long" || style === "longOffset") return "GMT" + sign + pad2(h) + ":" + pad2(m);
    return "GMT" + sign + h + (m ? ":" + pad2(m) : "");
  }

  function dateParts(r, f) {
    var parts = [];
    var textMonth = r.month === "long" || r.month === "short" || r.month === "narrow";
    var month = r.month === undefined ? null
      : r.month === "long" ? MONTHS[f.month] : r.month === "short" ? MONTHS[f.month].slice(0, 3)
      : r.month === "narrow" ? MONTHS[f.month].charAt(0) : r.month === "2-digit" ? pad2(f.month + 1) : String(f.month + 1);
    var day = r.day === undefined ? null : r.day === "2-digit" ? pad2(f.day) : String(f.day);
    var yearValue = f.year <= 0 ? 1 - f.year : f.year;
    var year = r.year === undefined ? null : r.year === "2-digit" ? pad2(yearValue % 100) : String(yearValue);
    var weekday = r.weekday === undefined ? null
      : r.weekday === "long" ? WEEKDAYS[f.weekday] : r.weekday === "short" ? WEEKDAYS[f.weekday].slice(0, 3)
      : WEEKDAYS[f.weekday].charAt(0);
    var lit = function (s) { parts.push(["literal", s]); };
    if (month === null && day !== null) {
      // CLDR en without a month: the day first ("19 Mon", "25 54", "19 Mon 50").
      parts.push(["day", day]);
      if (weekday !== null) { lit(" "); parts.push(["weekday", weekday]); }
      if (year !== null) { lit(" "); parts.push(["year", year]); }
      weekday = day = year = null;
    }
    var trailingWeekday = null;
    if (weekday !== null && day === null && (month !== null || year !== null)) {
      trailingWeekday = weekday;  // no day: CLDR en names the weekday after month and year
      weekday = null;
    }
    if (weekday !== null) {
      parts.push(["weekday", weekday]);
      if (month !== null || year !== null) lit(", ");
    }
    if (textMonth) {
      parts.push(["month", month]);
      if (day !== null) { lit(" "); parts.push(["day", day]); }
      if (year !== null) { lit(day !== null ? ", " : " "); parts.push(["year", year]); }
    } else {
      var order = [];
      if (month !== null) order.push(["month", month]);
      if (day !== null) order.push(["day", day]);
      if (year !== null) order.push(["year", year]);
      order.forEach(function (p, i) { if (i > 0) lit("/"); parts.push(p); });
    }
    if (r.era !== undefined && (parts.length || trailingWeekday !== null)) {
      lit(" ");
      var ad = f.year > 0;
      parts.push(["era", r.era === "long" ? (ad ? "Anno Domini" : "Before Christ") : r.era === "narrow" ? (ad ? "A" : "B") : (ad ? "AD" : "BC")]);
    }
    if (trailingWeekday !== null) { if (parts.length) lit(" "); parts.push(["weekday", trailingWeekday]); }
    return parts;
  }

  function timeParts(r, f) {
    var parts = [];
    var cycle = r.hourCycle;
    var twelve = cycle === "h11" || cycle === "h12";
    var lit = function (s) { parts.push(["literal", s]); };
    if (r.hour !== undefined) {
      var h = f.hour;
      if (cycle === "h12") h = h % 12 === 0 ? 12 : h % 12;
      else if (cycle === "h11") h = h % 12;
      else if (cycle === "h24") h = h === 0 ? 24 : h;
      var hourText = !twelve || r.hour === "2-digit" ? pad2(h) : String(h);
      if (!twelve && r.hour === "numeric" && r.minute === undefined) hourText = pad2(h);
      parts.push(["hour", hourText]);
    }
    if (r.minute !== undefined) {
      if (parts.length) lit(":");
      parts.push(["minute", r.hour !== undefined || r.second !== undefined ? pad2(f.minute) : String(f.minute)]);
    }
    if (r.second !== undefined) {
      if (parts.length) lit(":");
      parts.push(["second", r.minute !== undefined ? pad2(f.second) : String(f.second)]);
    }
    if (r.fractionalSecondDigits !== undefined) {
      if (parts.length) lit(".");
      parts.push(["fractionalSecond", String(f.ms + 1000).slice(1, 1 + r.fractionalSecondDigits)]);
    }
    if (r.hour !== undefined && twelve) {
      lit("\u202F");  // ICU's narrow space; Node's format() shows a plain space, formatToParts keeps it
      parts.push(["dayPeriod", f.hour < 12 ? "AM" : "PM"]);
    }
    if (r.timeZoneName !== undefined && parts.length) {
      lit(" ");
      parts.push(["timeZoneName", zoneText(f, r.timeZoneName)]);
    }
    return parts;
  }

  function zoneOnly(r, f) {
    // A zone name asked for with no time field: CLDR en appends it to the date with ", ".
    return r.timeZoneName !== undefined && r.hour === undefined && r.minute === undefined &&
      r.second === undefined && r.fractionalSecondDigits === undefined
      ? [["literal", ", "], ["timeZoneName", zoneText(f, r.timeZoneName)]] : [];
  }

  var DATE_STYLES = {
    full: { weekday: "long", month: "long", day: "numeric", year: "numeric" },
    long: { month: "long", day: "numeric", year: "numeric" },
    medium: { month: "short", day: "numeric", year: "numeric" },
    short: { month: "numeric", day: "numeric", year: "2-digit" },
  };
  var TIME_STYLES = {
    full: { hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "long" },
    long: { hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short" },
    medium: { hour: "numeric", minute: "2-digit", second: "2-digit" },
    short: { hour: "numeric", minute: "2-digit" },
  };

  function formatDateToParts(r, value) {
    var time = value === undefined ? Date.now() : Number(value instanceof Date ? value.getTime() : value);
    if (!isFinite(time)) throw new RangeError("Invalid time value");
    var f = fieldsOf(time, r.timeZone);
    var dateR = r;
    var timeR = r;
    if (r.dateStyle || r.timeStyle) {
      dateR = r.dateStyle ? DATE_STYLES[r.dateStyle] : {};
      timeR = r.timeStyle ? Object.assign({ hourCycle: r.hourCycle }, TIME_STYLES[r.timeStyle]) : {};
    }
    var date = dateParts(dateR, f);
    var clock = timeParts(timeR, f);
    if (!date.length) return clock;
    if (!clock.length) return date.concat(zoneOnly(r, f));
    // CLDR en: a long month (or a full/long date style) joins the time with " at ", others with ", ".
    var longDate = r.dateStyle ? r.dateStyle === "full" || r.dateStyle === "long" : r.month === "long";
    var joined = date.concat([["literal", longDate ? " at " : r.weekday && !r.month && !r.year && !r.day ? " " : ", "]], clock);
    return joined;
  }

  function dateText(parts) {
    return joinParts(parts).replace(/\u202F/g, " ");
  }

  var DATE_OPTION_ORDER = ["locale", "calendar", "numberingSystem", "timeZone", "hourCycle", "hour12", "weekday",
    "era", "year", "month", "day", "hour", "minute", "second", "fractionalSecondDigits", "timeZoneName"];

  function DateTimeFormat(locales, opts) {
    if (!(this instanceof DateTimeFormat)) return new DateTimeFormat(locales, opts);
    defineProperty(this, "__r", { value: resolveDateOptions(locales, opts, "any", "date") });
  }
  defineProperty(DateTimeFormat.prototype, "format", {
    configurable: true,
    get: function () {
      var r = this.__r;
      return function (value) { return dateText(formatDateToParts(r, value)); };
    },
  });
  method(DateTimeFormat.prototype, "formatToParts", function (value) {
    return partObjects(formatDateToParts(this.__r, value));
  });
  method(DateTimeFormat.prototype, "formatRange", function (a, b) {
    return this.format(a) + " – " + this.format(b);
  });
  method(DateTimeFormat.prototype, "resolvedOptions", function () {
    var r = this.__r;
    var out = {};
    DATE_OPTION_ORDER.forEach(function (k) {
      var v = k === "timeZone" ? r.timeZone.name : r[k];
      if (v !== undefined) out[k] = v;
    });
    if (r.dateStyle) out.dateStyle = r.dateStyle;
    if (r.timeStyle) out.timeStyle = r.timeStyle;
    return out;
  });

  function localeDate(required, defaults) {
    return function (locales, opts) {
      var time = this.getTime();
      if (time !== time) return "Invalid Date";
      return dateText(formatDateToParts(resolveDateOptions(locales, opts, required, defaults), time));
    };
  }

  // ---- Collator -----------------------------------------------------------------------------------------
  // A sort key close to ICU's root collation: spaces, then punctuation, symbols, digits, then letters
  // compared without accents and case; accents break ties, then case (lower first).
  // ICU's root order of the characters before the digits: punctuation (ignorable with
  // ignorePunctuation), then symbols, then currency signs; others of each kind by code point.
  var PUNCTUATION = "_-,;:!?.'\"()[]{}@*/\\&#%";
  var SYMBOLS = "`^+<=>|~";
  var CURRENCIES = "¤¢$£¥";
  var IS_PUNCTUATION = /\p{P}/u;
  var IS_SYMBOL = /\p{S}/u;
  var IS_CURRENCY = /\p{Sc}/u;
  var EXPANSIONS = { "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o\u0338", "Ø": "O\u0338",
    "ł": "l\u0335", "Ł": "L\u0335", "đ": "d\u0335", "Đ": "D\u0335" };
  var AFTER_Z = 300000 + 0x7a;  // þ is a letter of its own after z
  // The order of the combining accents (U+0300…U+036F) at ICU's second level, as Node 20 sorts them.
  var ACCENT_RANK = Object.create(null);
  ("34f 332 313 343 314 301 341 300 340 306 302 30c 30a 342 308 344 30b 303 307 338 327 328 304 30d 30e 312 315 31a 33d 33e 33f 346 34a 34b 34c 350 351 352 357 35b 35d 35e 316 317 318 319 31c 31d 31e 31f 320 329 32a 32b 32c 32f 333 33a 33b 33c 347 348 349 34d 34e 353 354 355 356 359 35a 35c 35f 362 336 337 335 305 309 30f 310 311 31b 321 322 323 324 325 326 32d 32e 330 331 334 339 345 358 360 361 363 368 369 364 36a 365 36b 366 36c 36d 367 36e 36f").split(" ").forEach(function (hex, i) {
    ACCENT_RANK[parseInt(hex, 16)] = i + 1;
  });

  function collationKey(s, numeric, ignorePunctuation) {
    var expanded = 0;  // ICU puts ß after ss, æ after ae, … at the third level
    var text = String(s).replace(/[ßæÆœŒøØłŁđĐ]/g, function (c) { expanded++; return EXPANSIONS[c]; }).normalize("NFD");
    var primary = [];
    var secondary = [];
    var tertiary = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      var code = text.charCodeAt(i);
      if (code >= 0x300 && code <= 0x36f) {  // a combining accent of the previous character
        if (secondary.length) secondary[secondary.length - 1] = secondary[secondary.length - 1] * 128 + ACCENT_RANK[code];
        continue;
      }
      if (/\s/.test(c)) {
        if (!ignorePunctuation) { primary.push(1); secondary.push(0); tertiary.push(0); }
        continue;
      }
      if (/[0-9]/.test(c)) {
        if (numeric) {
          var j = i;
          while (j < text.length && /[0-9]/.test(text.charAt(j))) j++;
          var run = text.slice(i, j).replace(/^0+(?=\d)/, "");
          primary.push(200000, run.length);
          for (var k = 0; k < run.length; k++) primary.push(200000 + run.charCodeAt(k));
          secondary.push(0); tertiary.push(0);
          i = j - 1;
        } else {
          primary.push(200000 + code); secondary.push(0); tertiary.push(0);
        }
        continue;
      }
      var lower = c.toLowerCase();
      var upper = c.toUpperCase();
      if (lower !== upper) {
        primary.push(lower === "þ" ? AFTER_Z + 0.5 : 300000 + lower.charCodeAt(0));
        secondary.push(0);
        tertiary.push(c === lower ? 0 : 1);
        continue;
      }
      var weight;
      if (IS_CURRENCY.test(c)) {
        weight = CURRENCIES.indexOf(c) >= 0 ? 150000 + CURRENCIES.indexOf(c) : 150100 + code;
      } else if (IS_SYMBOL.test(c)) {
        weight = SYMBOLS.indexOf(c) >= 0 ? 100000 + SYMBOLS.indexOf(c) : 100100 + code;
      } else if (IS_PUNCTUATION.test(c)) {
        if (ignorePunctuation) continue;
        weight = PUNCTUATION.indexOf(c) >= 0 ? 10 + PUNCTUATION.indexOf(c) : 100 + code;
      } else {
        weight = 300000 + code;  // letters without case (CJK, …) and the rest, after the cased ones
      }
      primary.push(weight);
      secondary.push(0);
      tertiary.push(0);
    }
    if (expanded) tertiary.push(expanded);
    return [primary, secondary, tertiary];
  }

  function compareArrays(a, b) {
    var n = Math.min(a.length, b.length);
    for (var i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }

  function resolveCollatorOptions(locales, raw) {
    checkLocales(locales);
    var opts = options(raw);
    var r = { locale: LOCALE };
    r.usage = pick(opts, "usage", ["sort", "search"], "sort");
    r.sensitivity = pick(opts, "sensitivity", ["base", "accent", "case", "variant"], "variant");
    r.ignorePunctuation = pick(opts, "ignorePunctuation", "boolean", false);
    r.collation = "default";
    r.numeric = pick(opts, "numeric", "boolean", false);
    r.caseFirst = pick(opts, "caseFirst", ["upper", "lower", "false"], "false");
    return r;
  }

  function compareWith(r, a, b) {
    var ka = collationKey(a, r.numeric, r.ignorePunctuation);
    var kb = collationKey(b, r.numeric, r.ignorePunctuation);
    var c = compareArrays(ka[0], kb[0]);
    if (c !== 0 || r.sensitivity === "base") return c;
    if (r.sensitivity !== "case") {
      c = compareArrays(ka[1], kb[1]);
      if (c !== 0 || r.sensitivity === "accent") return c;
    }
    c = compareArrays(ka[2], kb[2]);
    return r.caseFirst === "upper" ? -c : c;
  }

  function Collator(locales, opts) {
    if (!(this instanceof Collator)) return new Collator(locales, opts);
    defineProperty(this, "__r", { value: resolveCollatorOptions(locales, opts) });
  }
  defineProperty(Collator.prototype, "compare", {
    configurable: true,
    get: function () {
      var r = this.__r;
      return function (a, b) { return compareWith(r, String(a), String(b)); };
    },
  });
  method(Collator.prototype, "resolvedOptions", function () { return Object.assign({}, this.__r); });

  // ---- PluralRules, RelativeTimeFormat, ListFormat ------------------------------------------------------
  function PluralRules(locales, opts) {
    if (!(this instanceof PluralRules)) throw new TypeError("Constructor Intl.PluralRules requires 'new'");
    var o = options(opts);
    var type = pick(o, "type", ["cardinal", "ordinal"], "cardinal");
    var r = resolveNumberOptions(locales, Object.assign({}, o, { style: "decimal", useGrouping: false }));
    r.type = type;
    defineProperty(this, "__r", { value: r });
  }
  method(PluralRules.prototype, "select", function (value) {
    var r = this.__r;
    var x = Number(value);
    if (!isFinite(x)) return "other";
    if (r.type === "ordinal") {
      var n = Math.abs(x);
      if (n !== Math.floor(n)) return "other";
      var mod10 = n % 10;
      var mod100 = n % 100;
      if (mod10 === 1 && mod100 !== 11) return "one";
      if (mod10 === 2 && mod100 !== 12) return "two";
      if (mod10 === 3 && mod100 !== 13) return "few";
      return "other";
    }
    return joinParts(numberParts(r, Math.abs(x)).parts) === "1" ? "one" : "other";
  });
  method(PluralRules.prototype, "resolvedOptions", function () {
    var r = this.__r;
    return { locale: LOCALE, type: r.type, minimumIntegerDigits: r.minimumIntegerDigits,
      minimumFractionDigits: r.minimumFractionDigits, maximumFractionDigits: r.maximumFractionDigits,
      pluralCategories: r.type === "ordinal" ? ["few", "one", "two", "other"] : ["one", "other"],
      roundingIncrement: 1, roundingMode: "halfExpand", roundingPriority: "auto", trailingZeroDisplay: "auto" };
  });

  // unit: [long one, long other, short one, short other, narrow suffix]
  var RELATIVE_UNITS = {
    year: ["year", "years", "yr.", "yr.", "y"], quarter: ["quarter", "quarters", "qtr.", "qtrs.", "q"],
    month: ["month", "months", "mo.", "mo.", "mo"], week: ["week", "weeks", "wk.", "wk.", "w"],
    day: ["day", "days", "day", "days", "d"], hour: ["hour", "hours", "hr.", "hr.", "h"],
    minute: ["minute", "minutes", "min.", "min.", "m"], second: ["second", "seconds", "sec.", "sec.", "s"],
  };
  var RELATIVE_WORDS = {
    day: { "-1": "yesterday", "0": "today", "1": "tomorrow" },
    year: { "-1": "last year", "0": "this year", "1": "next year" },
    quarter: { "-1": "last quarter", "0": "this quarter", "1": "next quarter" },
    month: { "-1": "last month", "0": "this month", "1": "next month" },
    week: { "-1": "last week", "0": "this week", "1": "next week" },
    hour: { "0": "this hour" }, minute: { "0": "this minute" }, second: { "0": "now" },
  };

  function RelativeTimeFormat(locales, opts) {
    if (!(this instanceof RelativeTimeFormat)) throw new TypeError("Constructor Intl.RelativeTimeFormat requires 'new'");
    checkLocales(locales);
    var o = options(opts);
    defineProperty(this, "__r", { value: {
      locale: LOCALE, style: pick(o, "style", ["long", "short", "narrow"], "long"),
      numeric: pick(o, "numeric", ["always", "auto"], "always"), numberingSystem: "latn",
    } });
  }
  method(RelativeTimeFormat.prototype, "format", function (value, unit) {
    var r = this.__r;
    var x = Number(value);
    if (!isFinite(x)) throw new RangeError("Invalid number value");
    var name = String(unit).replace(/s$/, "");
    var forms = RELATIVE_UNITS[name];
    if (!forms) throw new RangeError("Invalid unit argument for format() '" + unit + "'");
    if (r.numeric === "auto" && RELATIVE_WORDS[name] && RELATIVE_WORDS[name][String(Object.is(x, -0) ? 0 : x)] !== undefined) {
      return RELATIVE_WORDS[name][String(Object.is(x, -0) ? 0 : x)];
    }
    var number = new NumberFormat(LOCALE).format(Math.abs(x));
    var past = x < 0 || Object.is(x, -0);
    var text;
    if (r.style === "narrow") {
      text = number + forms[4];
    } else {
      var one = number === "1";
      text = number + " " + (r.style === "short" ? forms[one ? 2 : 3] : forms[one ? 0 : 1]);
    }
    return past ? text + " ago" : "in " + text;
  });
  method(RelativeTimeFormat.prototype, "resolvedOptions", function () { return Object.assign({}, this.__r); });

  function ListFormat(locales, opts) {
    if (!(this instanceof ListFormat)) throw new TypeError("Constructor Intl.ListFormat requires 'new'");
    checkLocales(locales);
    var o = options(opts);
    defineProperty(this, "__r", { value: {
      locale: LOCALE, type: pick(o, "type", ["conjunction", "disjunction", "unit"], "conjunction"),
      style: pick(o, "style", ["long", "short", "narrow"], "long"),
    } });
  }
  method(ListFormat.prototype, "format", function (list) {
    var r = this.__r;
    var items = [];
    if (list !== undefined) {
      for (var item of list) {
        if (typeof item !== "string") throw new TypeError("Iterable yielded " + String(item) + " which is not a string");
        items.push(item);
      }
    }
    if (items.length < 2) return items.join("");
    var separator = r.type === "unit" && r.style === "narrow" ? " " : ", ";
    var word = r.type === "disjunction" ? "or" : r.type === "unit" ? null : r.style === "long" ? "and" : r.style === "short" ? "&" : null;
    if (word === null) return items.join(separator);
    if (items.length === 2) return items[0] + " " + word + " " + items[1];
    return items.slice(0, -1).join(", ") + ", " + word + " " + items[items.length - 1];
  });
  method(ListFormat.prototype, "resolvedOptions", function () { return Object.assign({}, this.__r); });

  // ---- the Intl object and the locale-aware built-in methods -------------------------------------------
  function supportedLocalesOf(locales) {
    return checkLocales(locales).map(canonicalTag).filter(function (tag) { return tag === LOCALE || tag === "en"; });
  }
  [NumberFormat, DateTimeFormat, Collator, PluralRules, RelativeTimeFormat, ListFormat].forEach(function (C) {
    method(C, "supportedLocalesOf", supportedLocalesOf);
  });
  defineProperty(NumberFormat.prototype, Symbol.toStringTag, { value: "Intl.NumberFormat", configurable: true });
  defineProperty(DateTimeFormat.prototype, Symbol.toStringTag, { value: "Intl.DateTimeFormat", configurable: true });
  defineProperty(Collator.prototype, Symbol.toStringTag, { value: "Intl.Collator", configurable: true });
  defineProperty(PluralRules.prototype, Symbol.toStringTag, { value: "Intl.PluralRules", configurable: true });

  var Intl = {};
  method(Intl, "NumberFormat", NumberFormat);
  method(Intl, "DateTimeFormat", DateTimeFormat);
  method(Intl, "Collator", Collator);
  method(Intl, "PluralRules", PluralRules);
  method(Intl, "RelativeTimeFormat", RelativeTimeFormat);
  method(Intl, "ListFormat", ListFormat);
  method(Intl, "getCanonicalLocales", function (locales) { return checkLocales(locales).map(canonicalTag); });
  method(Intl, "supportedValuesOf", function () { return []; });
  defineProperty(Intl, Symbol.toStringTag, { value: "Intl", configurable: true });

  var number = function toLocaleString(locales, opts) {
    return joinParts(formatNumberToParts(resolveNumberOptions(locales, opts), Number.prototype.valueOf.call(this)));
  };
  var bigint = function toLocaleString(locales, opts) {
    return joinParts(formatNumberToParts(resolveNumberOptions(locales, opts), BigInt.prototype.valueOf.call(this)));
  };
  var array = function toLocaleString(locales, opts) {
    // ECMA-402's version: each element's own toLocaleString with the same locales and options.
    var list = Object(this);
    var length = Math.min(Math.max(Math.floor(Number(list.length)) || 0, 0), Number.MAX_SAFE_INTEGER);
    var text = "";
    for (var i = 0; i < length; i++) {
      if (i > 0) text += ",";
      var item = list[i];
      if (item !== undefined && item !== null) text += String(Object(item).toLocaleString(locales, opts));
    }
    return text;
  };
  var localeCompare = function localeCompare(that, locales, opts) {
    if (this === null || this === undefined) throw new TypeError("String.prototype.localeCompare called on null or undefined");
    return compareWith(resolveCollatorOptions(locales, opts), String(this), String(that));
  };
  return {
    Intl: Intl, number: number, bigint: bigint, array: array, localeCompare: localeCompare,
    date: localeDate("any", "all"), dateOnly: localeDate("date", "date"), timeOnly: localeDate("time", "time"),
  };
