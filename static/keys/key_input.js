/* Product key inputs: instant feedback as you type, following keys/codec.py exactly.
 *
 * Every <input data-key-input> gets: characters grouped in fives as you type, the position of a
 * character that is never used in product keys marked, a note when the check character does not
 * match, and a pasted list of keys (one a line, or separated by commas or spaces) split into
 * separate inputs when the input sits in a [data-key-list] container. The server is the
 * authority: without this script the forms work the same, only without the instant feedback.
 * A screen reader hears the feedback when the key is complete or wrong, not at every keystroke:
 * the visible text under the field (the count of characters typed) is not a live region; a
 * hidden status next to it speaks only when the verdict changes.
 * The rules are tested against tests/keys/key_vectors.json, like the Python code.
 */
(function (root) {
  "use strict";

  var ALPHABET = "BCDFGHJKMPQRTVWXY2346789";
  var BASE = ALPHABET.length; // 24
  var KEY_LENGTH = 25;
  var GROUP = 5;
  // Exactly what Python's str.isspace() accepts, plus hyphens and the dashes word processors use.
  var SPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  var SEPARATORS = "-\u2010\u2011\u2013\u2014";
  var LIST_SEPARATORS = /[\r\n,;]+/;

  function chars(text) { return Array.from(text); } // code points, as Python counts them

  function normalize(raw) {
    var kept = chars(raw).filter(function (ch) {
      return !SPACE.test(ch) && SEPARATORS.indexOf(ch) < 0;
    });
    return kept.join("").toUpperCase();
  }

  function checkCharacter(payload) {
    var total = 0;
    var factor = 2;
    var list = chars(payload);
    for (var i = list.length - 1; i >= 0; i--) {
      var product = factor * ALPHABET.indexOf(list[i]);
      total += Math.floor(product / BASE) + (product % BASE);
      factor = factor === 2 ? 1 : 2;
    }
    return ALPHABET.charAt((BASE - (total % BASE)) % BASE);
  }

  /* {ok: true, key} or {ok: false, code, position, character, length}; same order as Python. */
  function validate(raw) {
    var key = normalize(raw);
    var list = chars(key);
    if (list.length === 0) return { ok: false, code: "empty" };
    for (var i = 0; i < list.length; i++) {
      if (ALPHABET.indexOf(list[i]) < 0) {
        return { ok: false, code: "character", position: i + 1, character: list[i] };
      }
    }
    if (list.length !== KEY_LENGTH) return { ok: false, code: "length", length: list.length };
    if (checkCharacter(key.slice(0, KEY_LENGTH - 1)) !== key.charAt(KEY_LENGTH - 1)) {
      return { ok: false, code: "checksum" };
    }
    return { ok: true, key: key };
  }

  function format(text) {
    var list = chars(text);
    var groups = [];
    for (var i = 0; i < list.length; i += GROUP) groups.push(list.slice(i, i + GROUP).join(""));
    return groups.join("-");
  }

  function splitList(text) {
    var keys = [];
    text.split(LIST_SEPARATORS).forEach(function (piece) {
      if (!piece.trim()) return;
      var parts = piece.split(SPACE).filter(function (p) { return p.length > 0; });
      var whole = parts.length > 1 && chars(normalize(piece)).length > KEY_LENGTH &&
        parts.every(function (p) { return chars(normalize(p)).length === KEY_LENGTH; });
      if (whole) keys.push.apply(keys, parts);
      else keys.push(piece.trim());
    });
    return keys;
  }

  var api = {
    ALPHABET: ALPHABET,
    normalize: normalize,
    checkCharacter: checkCharacter,
    validate: validate,
    format: format,
    splitList: splitList,
  };
  root.PortalKeys = api;

  // ---- The page: only when there is a document ------------------------------------------------
  if (typeof document === "undefined") return;

  var messages = {};
  function loadMessages() {
    var node = document.getElementById("key-messages");
    if (node) messages = JSON.parse(node.textContent);
  }

  function message(result) {
    var name = result.code === "length" && result.length === 1 ? "length_one" : result.code;
    var template = messages[name] || "";
    var text = template.replace(/%\((\w+)\)[sd]/g, function (_, key) {
      return result[key] === undefined ? "" : String(result[key]);
    });
    // Which characters never occur, and what people usually confuse (as the server says).
    if (result.code === "character" && messages.character_hint) {
      text += " " + messages.character_hint;
    }
    return text;
  }

  function feedbackFor(input) {
    var id = input.id + "-feedback";
    var node = document.getElementById(id);
    if (!node) {
      node = document.createElement("div");
      node.id = id;
      node.className = "key-feedback form-text";
      node.setAttribute("data-testid", "key-feedback");
      input.insertAdjacentElement("afterend", node);
      // In the page before anything is said: a live region added with its text is not read.
      var status = document.createElement("div");
      status.id = input.id + "-status";
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      status.setAttribute("data-testid", "key-status");
      node.insertAdjacentElement("afterend", status);
      var described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? described + " " + id : id);
    }
    return node;
  }

  /* Speak `text` once per verdict (`verdict` names it: the same mistake typed on is not
   * repeated at each keystroke); an empty text silences the status without speaking. */
  function announce(input, verdict, text) {
    var status = document.getElementById(input.id + "-status");
    if (!status || status.dataset.verdict === verdict) return;
    status.dataset.verdict = verdict;
    status.textContent = text;
  }

  function show(input) {
    var node = feedbackFor(input);
    var key = normalize(input.value);
    var result = validate(input.value);
    node.textContent = "";
    input.classList.remove("is-invalid", "is-valid");
    input.removeAttribute("aria-invalid");
    node.classList.remove("text-danger", "text-success");
    if (result.code === "empty") {
      announce(input, "", "");
      return;
    }
    if (result.ok) {
      node.textContent = messages.looks_right || "";  // the format only: the server decides
      node.classList.add("text-success");
      input.classList.add("is-valid");
      announce(input, "ok", node.textContent);
      return;
    }
    if (result.code === "length" && result.length < KEY_LENGTH) {
      node.textContent = (messages.progress || "").replace("%(length)d", result.length);
      announce(input, "", "");
      return; // still typing: not an error yet
    }
    input.classList.add("is-invalid");
    input.setAttribute("aria-invalid", "true");
    node.classList.add("text-danger");
    var text = document.createElement("span");
    text.textContent = message(result);
    var verdict = result.code === "character" ? "character " + result.position : result.code;
    announce(input, verdict, text.textContent);
    node.appendChild(text);
    if (result.code === "character") {
      // Show the key with the unusable character marked where it is.
      var list = chars(key);
      var shown = document.createElement("div");
      shown.className = "key-masked mt-1";
      shown.setAttribute("data-testid", "key-marked");
      list.forEach(function (ch, index) {
        if (index > 0 && index % GROUP === 0) shown.appendChild(document.createTextNode("-"));
        if (index === result.position - 1) {
          var mark = document.createElement("mark");
          mark.textContent = ch;
          shown.appendChild(mark);
        } else {
          shown.appendChild(document.createTextNode(ch));
        }
      });
      node.appendChild(shown);
    }
  }

  function regroup(input) {
    // Keep the caret after the same significant character once hyphens move.
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var before = normalize(input.value.slice(0, caret));
    var grouped = format(normalize(input.value));
    if (grouped === input.value) return;
    input.value = grouped;
    var count = chars(before).length;
    var position = count + Math.max(0, Math.floor((count - 1) / GROUP));
    if (count > 0 && count % GROUP === 0 && count < chars(normalize(grouped)).length) position += 1;
    try { input.setSelectionRange(position, position); } catch (e) { /* not focusable */ }
  }

  function addRow(container, value) {
    var template = container.querySelector("template[data-key-template]");
    var total = container.querySelector("input[name$='-TOTAL_FORMS']");
    var rows = container.querySelector("[data-key-rows]");
    if (!template || !total || !rows) return null;
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    rows.appendChild(row);
    total.value = String(index + 1);
    var input = row.querySelector("input[data-key-input]");
    if (input) {
      enhance(input);
      input.value = value || "";
      if (value) { regroup(input); show(input); }
    }
    return input;
  }

  function emptyInputs(container) {
    return Array.from(container.querySelectorAll("input[data-key-input]")).filter(function (i) {
      return !i.value.trim();
    });
  }

  function onPaste(event) {
    var input = event.target;
    var text = (event.clipboardData || window.clipboardData).getData("text");
    var keys = splitList(text);
    var container = input.closest("[data-key-list]");
    if (keys.length < 2 || !container) return; // one key: the browser pastes, "input" regroups
    event.preventDefault();
    spread(input, container, keys);
  }

  function splitTyped(input) {
    // "key1, key2" typed in one field of the key list: the server accepts it (it splits the
    // list), so the page does what a paste does instead of calling the comma a wrong character.
    // A separator typed after a key opens the next row.
    var container = input.closest("[data-key-list]");
    if (!container || !/[,;\n]/.test(input.value)) return false;
    var keys = splitList(input.value);
    var opensRow = /[,;]\s*$/.test(input.value);
    if (keys.length < 2 && !opensRow) return false;
    spread(input, container, keys.length ? keys : [""]);
    if (opensRow) {
      var next = emptyInputs(container).filter(function (i) { return i !== input; })[0] ||
        addRow(container, "");
      if (next) next.focus();
    }
    return true;
  }

  function spread(input, container, keys) {
    input.value = keys[0];
    regroup(input);
    show(input);
    var spare = emptyInputs(container).filter(function (i) { return i !== input; });
    keys.slice(1).forEach(function (key) {
      var target = spare.shift();
      if (target) {
        target.value = key;
        regroup(target);
        show(target);
      } else {
        addRow(container, key);
      }
    });
  }

  function serverErrors(input) {
    // The field's own block: crispy-forms' div_id_<name>, or a key row of the redeem page.
    var block = input.closest("[id^='div_id_'], [data-key-row]") || input.parentElement;
    return Array.from(block.querySelectorAll(".invalid-feedback"));
  }

  function enhance(input) {
    if (input.dataset.keyEnhanced) return;
    input.dataset.keyEnhanced = "1";
    feedbackFor(input); // its status region must be in the page before it has anything to say
    input.addEventListener("input", function () {
      // The server's verdict was about what was typed before: it goes once the key changes.
      serverErrors(input).forEach(function (node) { node.remove(); });
      if (splitTyped(input)) return;
      regroup(input);
      show(input);
    });
    input.addEventListener("paste", onPaste);
    // Typed before the script ran (or sent back by the server): group it now. A key the server
    // refused keeps the server's message (it knows more: used, unknown...).
    if (input.value) {
      regroup(input);
      if (!serverErrors(input).length) show(input);
    }
  }

  function init() {
    loadMessages();
    document.querySelectorAll("input[data-key-input]").forEach(enhance);
    document.querySelectorAll("[data-key-list] [data-key-add]").forEach(function (button) {
      // With the script the row is added in the page; without it the button posts the form and
      // the server adds the row.
      button.addEventListener("click", function (event) {
        var container = button.closest("[data-key-list]");
        var input = addRow(container, "");
        if (input) { event.preventDefault(); input.focus(); }
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})(typeof window !== "undefined" ? window : globalThis);
