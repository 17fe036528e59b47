// Triggerkit dashboard: small enhancements over server-rendered pages.
// Every page reads without this script; it adds local times, copying, live
// refresh control, keyboard shortcuts, JSON checks and remembered preferences.
(function () {
  "use strict";

  var store = {
    get: function (key) { try { return localStorage.getItem(key); } catch (e) { return null; } },
    set: function (key, value) {
      try {
        if (value === null) { localStorage.removeItem(key); } else { localStorage.setItem(key, value); }
      } catch (e) { /* private mode: preferences last for the page only */ }
    },
  };

  function all(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }

  // ---- Times in the viewer's zone; the UTC time stays in the title. ----------
  var pad = function (n, width) { return String(n).padStart(width || 2, "0"); };
  var dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
  var viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function clock(date, withMs) {
    var text = pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
    return withMs ? text + "." + pad(date.getMilliseconds(), 3) : text;
  }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function relative(date, now) {
    var seconds = Math.round((now - date) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 5) { return future ? "in a moment" : "just now"; }
    if (s < 60) { text = s + "s"; }
    else if (s < 3600) { text = Math.floor(s / 60) + " min"; }
    else if (s < 86400) { text = Math.floor(s / 3600) + " h"; }
    else if (s < 86400 * 30) { text = Math.floor(s / 86400) + " d"; }
    else { return dateFormat.format(date); }
    return future ? "in " + text : text + " ago";
  }

  function showTime(el) {
    var date = new Date(el.getAttribute("datetime"));
    if (isNaN(date)) { return; }
    var now = new Date();
    var style = el.getAttribute("data-local");
    var text;
    if (style === "relative") { text = relative(date, now); }
    else if (style === "time" || style === "time-ms") {
      text = clock(date, style === "time-ms");
      if (!sameDay(date, now)) { text = dateFormat.format(date) + " " + text; }
    } else { text = dateFormat.format(date) + " " + clock(date); }
    el.textContent = text;
    if (!el.hasAttribute("data-utc")) {
      el.setAttribute("data-utc", el.getAttribute("title") || "");
      el.setAttribute("title", el.getAttribute("title") + " · " + dateFormat.format(date) + " " + clock(date) + " " + viewerZone);
    }
  }

  function showTimes(root) { all(root, "time[data-local]").forEach(showTime); }

  // ---- Theme: follows the system until the user picks one. ------------------
  var THEMES = ["auto", "light", "dark"];
  var THEME_WORDS = { auto: "follows the system", light: "light", dark: "dark" };

  function applyTheme(theme) {
    if (theme === "auto") { document.documentElement.removeAttribute("data-theme"); }
    else { document.documentElement.setAttribute("data-theme", theme); }
    all(document, "[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-label", "Colour theme: " + THEME_WORDS[theme] + ". Change it");
      button.setAttribute("title", "Colour theme: " + THEME_WORDS[theme]);
    });
  }

  function cycleTheme() {
    var current = store.get("tk-theme") || "auto";
    var next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
    store.set("tk-theme", next === "auto" ? null : next);
    applyTheme(next);
  }

  // ---- Copying. --------------------------------------------------------------
  function copyText(text, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  function textToCopy(button) {
    if (button.hasAttribute("data-copy")) { return button.getAttribute("data-copy"); }
    var source = document.querySelector(button.getAttribute("data-copy-from"));
    if (!source) { return ""; }
    var field = source.tagName === "INPUT" || source.tagName === "TEXTAREA";
    return field ? source.value : source.textContent.trim();
  }

  // ---- Live refresh: paused by the user, while rows are selected, while a
  //      form field has focus or a confirmation is open, or in a hidden tab. --
  var paused = store.get("tk-live-paused") === "1";

  function selectedRows() { return all(document, "[data-row-select]:checked").length; }

  function busy() {
    var active = document.activeElement;
    if (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== "checkbox") { return true; }
    return all(document, "details.confirm[open], details.menu[open]").length > 0;
  }

  function live() { return !paused && !document.hidden && selectedRows() === 0 && !busy(); }

  function showLiveState() {
    all(document, "[data-live-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", paused ? "true" : "false");
      button.classList.toggle("paused", paused);
      var label = button.querySelector("[data-live-label]");
      var reason = paused ? "Paused" : selectedRows() ? "Paused while runs are selected" : "Live";
      if (label) { label.textContent = reason; }
    });
  }

  function toggleLive() {
    paused = !paused;
    store.set("tk-live-paused", paused ? "1" : null);
    showLiveState();
  }

  // ---- Row selection and columns. -------------------------------------------
  function showSelection() {
    var count = selectedRows();
    all(document, "[data-selected-count]").forEach(function (el) { el.textContent = String(count); });
    if (count) {
      var bulk = document.querySelector("[data-bulk]");
      if (bulk && !bulk.open) { bulk.open = true; }
    }
    showLiveState();
  }

  function hiddenColumns() {
    var saved = store.get("tk-hidden-columns");
    return saved ? saved.split(",").filter(Boolean) : [];
  }

  function applyColumns() {
    var hidden = hiddenColumns();
    all(document, "[data-columns] input[type=checkbox]").forEach(function (box) {
      box.checked = hidden.indexOf(box.value) === -1;
    });
    Array.prototype.slice.call(document.body.classList).forEach(function (name) {
      if (name.indexOf("hide-col-") === 0) { document.body.classList.remove(name); }
    });
    hidden.forEach(function (column) { document.body.classList.add("hide-col-" + column); });
  }

  // ---- Keyboard: a highlighted row in lists, and page shortcuts. ------------
  var cursor = -1;

  function rows() { return all(document, "[data-keyboard-list] [data-row]"); }

  function highlight(index) {
    var list = rows();
    if (!list.length) { return; }
    cursor = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("highlighted", i === cursor); });
    var link = list[cursor].querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }
    list[cursor].scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target && (/^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) || target.isContentEditable);
  }

  var pendingGo = false;

  function onKey(event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      var form = event.target.closest && event.target.closest("form[data-submit-shortcut]");
      form = form || document.querySelector("form[data-submit-shortcut]");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.key === "Escape") {
      all(document, "details.menu[open], details.confirm[open]").forEach(function (d) { d.open = false; });
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }

    if (pendingGo) {
      pendingGo = false;
      var target = document.querySelector('[data-shortcut-go="' + event.key + '"]');
      if (target) { event.preventDefault(); target.click(); }
      return;
    }
    var list = rows();
    switch (event.key) {
      case "?":
        event.preventDefault();
        openShortcuts();
        break;
      case "/":
        var search = document.querySelector("[data-search-focus]");
        if (search) { event.preventDefault(); search.focus(); }
        break;
      case "g":
        pendingGo = true;
        setTimeout(function () { pendingGo = false; }, 1200);
        break;
      case "1": case "2": case "3":
        var env = document.querySelector('[data-shortcut-env="' + event.key + '"]');
        if (env) { env.click(); }
        break;
      case "j":
        if (list.length) { event.preventDefault(); highlight(cursor + 1); }
        break;
      case "k":
        if (list.length) { event.preventDefault(); highlight(cursor - 1); }
        break;
      case "Enter":
        if (cursor >= 0 && list[cursor] && document.activeElement === document.body) {
          window.location.href = list[cursor].getAttribute("data-href");
        }
        break;
      case "x":
        if (cursor >= 0 && list[cursor]) {
          var box = list[cursor].querySelector("[data-row-select]");
          if (box) { box.checked = !box.checked; showSelection(); }
        }
        break;
      case "p":
        if (document.querySelector("[data-live-toggle]")) { toggleLive(); }
        break;
    }
  }

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  // ---- JSON editors: say at once whether the text is valid JSON. -------------
  function checkJson(editor) {
    var status = editor.parentElement.querySelector("[data-json-status]");
    var text = editor.value.trim();
    var message = "";
    var ok = true;
    if (text) {
      try {
        var value = JSON.parse(text);
        if (editor.hasAttribute("data-json-optional") && (value === null || typeof value !== "object" || Array.isArray(value))) {
          ok = false;
          message = "Metadata must be a JSON object, like {\"plan\": \"pro\"}.";
        } else {
          message = "Valid JSON.";
        }
      } catch (error) {
        ok = false;
        message = "Not valid JSON: " + error.message;
      }
    } else {
      message = editor.hasAttribute("data-json-optional") ? "" : "Empty: the run gets no payload.";
    }
    if (status) {
      status.textContent = message;
      status.classList.toggle("field-error", !ok);
      status.classList.toggle("field-ok", ok && !!text);
    }
    editor.setAttribute("aria-invalid", ok ? "false" : "true");
    return ok;
  }

  function formatJson(editor) {
    try { editor.value = JSON.stringify(JSON.parse(editor.value), null, 2); } catch (e) { /* leave it */ }
    checkJson(editor);
  }

  // ---- Wiring, on load and on every piece of content htmx swaps in. ---------
  function enhance(root) {
    showTimes(root);
    all(root, "[data-viewer-zone]").forEach(function (input) { if (!input.value) { input.value = viewerZone; } });
    all(root, "input[data-local-input]").forEach(function (input) {
      var date = new Date(input.getAttribute("data-local-input"));
      if (isNaN(date)) { return; }
      input.value = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" + clock(date);
    });
    all(root, "[data-json-editor]").forEach(function (editor) {
      if (!editor.hasAttribute("aria-invalid") || editor.getAttribute("aria-invalid") === "false") { checkJson(editor); }
    });
    all(root, "text[data-minute]").forEach(function (tick) {
      var date = new Date(tick.getAttribute("data-minute"));
      if (!isNaN(date)) { tick.textContent = pad(date.getHours()) + ":" + pad(date.getMinutes()); }
    });
    if (cursor >= 0) {
      var list = rows();
      if (list[cursor]) { list[cursor].classList.add("highlighted"); }
    }
    showSelection();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target.closest("[data-copy], [data-copy-from]");
    if (button) { event.preventDefault(); copyText(textToCopy(button), button); return; }
    if (target.closest("[data-theme-toggle]")) { cycleTheme(); return; }
    if (target.closest("[data-open-shortcuts]")) { openShortcuts(); return; }
    if (target.closest("[data-live-toggle]")) { toggleLive(); return; }
    var format = target.closest("[data-format-json]");
    if (format) { formatJson(document.querySelector(format.getAttribute("data-format-json"))); return; }
    var use = target.closest("[data-use-payload]");
    if (use) {
      var editor = document.getElementById("payload");
      if (editor) {
        event.preventDefault();
        editor.value = use.getAttribute("data-use-payload");
        checkJson(editor);
        editor.focus();
      }
      return;
    }
    var row = target.closest("[data-row]");
    if (row && !target.closest("a, button, input, label, select")) {
      window.location.href = row.getAttribute("data-href");
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      all(document, "[data-row-select]").forEach(function (box) { box.checked = target.checked; });
      showSelection();
    } else if (target.matches("[data-row-select]")) {
      showSelection();
    } else if (target.closest("[data-columns]")) {
      event.stopPropagation();
      var hidden = all(document, "[data-columns] input[type=checkbox]")
        .filter(function (box) { return !box.checked; })
        .map(function (box) { return box.value; });
      store.set("tk-hidden-columns", hidden.length ? hidden.join(",") : null);
      applyColumns();
    }
  }, true);

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-json-editor]")) { checkJson(event.target); }
  });

  document.addEventListener("submit", function (event) {
    var editors = all(event.target, "[data-json-editor]");
    var bad = editors.filter(function (editor) { return !checkJson(editor); });
    if (bad.length) { event.preventDefault(); bad[0].focus(); }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) { event.target.select(); }
  });

  document.addEventListener("keydown", onKey);
  document.addEventListener("visibilitychange", showLiveState);

  // A page answering a form (a new key) takes the address of its list, so that
  // reloading it shows the list instead of sending the form again.
  var canonical = document.querySelector("[data-canonical-url]");
  if (canonical && window.history.replaceState) {
    window.history.replaceState(null, "", canonical.getAttribute("data-canonical-url"));
  }

  window.tk = { live: live };

  applyTheme(store.get("tk-theme") || "auto");
  applyColumns();
  showLiveState();
  if (window.htmx) { window.htmx.onLoad(enhance); } else { enhance(document); }
  setInterval(function () { all(document, 'time[data-local="relative"]').forEach(showTime); }, 15000);
})();
