/* Public booking pages: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function detectedZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  // Show times in the visitor's own zone: add it to the <select> and, on a first visit (no zone
  // chosen yet), reload the picker in it. Without JavaScript the gym's zone is used.
  function adoptZone() {
    var zone = detectedZone();
    document.querySelectorAll("form[data-tz-detect]").forEach(function (form) {
      var select = form.querySelector("select[name=tz]");
      if (!zone || !select) return;
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
      if (!known) select.add(new Option(zone.replace(/_/g, " ") + " (your zone)", zone), 0);
      if (form.getAttribute("data-tz-detect") !== "auto" || select.value === zone) return;
      form.setAttribute("data-tz-detect", "done");
      select.value = zone;
      var url = form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
      if (window.htmx) {
        quiet = true;  // not the visitor's action: leave their focus alone
        htmx.ajax("GET", url, { target: form.getAttribute("data-tz-target"), swap: "innerHTML" }).then(function () {
          history.replaceState(history.state, "", url);
        });
      } else {
        window.location.replace(url);
      }
    });
  }

  // The zone and type forms change one part of the picker's state. The rest (day, month, slot)
  // may have moved on since their hidden fields were rendered, as htmx swapped other regions and
  // pushed the URL: take it from the URL instead.
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    var keep = form && form.getAttribute && form.getAttribute("data-state-keep");
    if (!keep) return;
    var current = new URLSearchParams(window.location.search);
    keep.split(" ").forEach(function (key) {
      if (current.has(key)) event.detail.parameters[key] = current.get(key);
      else delete event.detail.parameters[key];
    });
  });

  // Plain GET forms (the zone on the manage page) submit on change when scripts run.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  // After a swap, keep keyboard focus where the person was (month arrows, zone select), or move
  // it to the new content's heading, and mark the chosen day in the calendar.
  var lastFocusId = null;
  var quiet = false;
  document.addEventListener("htmx:beforeRequest", function () {
    var active = document.activeElement;
    lastFocusId = active && active.id ? active.id : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (quiet) { quiet = false; adoptZone(); return; }
    var heading = target.querySelector("[data-focus]");
    var keep = lastFocusId && document.getElementById(lastFocusId);
    if (target.id !== "booking-step" && keep && target.contains(keep)) {
      keep.focus();
    } else if (heading) {
      heading.focus();
    }
    var day = target.querySelector("[data-day]");
    if (target.id === "booking-step" && day) {
      document.querySelectorAll(".day[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
      var link = document.getElementById("day-" + day.getAttribute("data-day"));
      if (link) link.setAttribute("aria-current", "true");
    }
    adoptZone();
  });

  // Loading feedback. While htmx fetches into a region, the region is aria-busy (assistive tech
  // waits for the new content) and its indicator (the spinner over the day's times, shown by CSS
  // on .htmx-request) speaks its visually hidden text. A submit button with data-busy-label says
  // what it is doing ("Booking…") until the answer comes; htmx disables it meanwhile
  // (hx-disabled-elt), and a 422 brings a fresh form. Without htmx the same happens on a plain
  // submit, and a second submit while the first is in flight is ignored.
  var ENDED = ["htmx:afterRequest", "htmx:sendError", "htmx:timeout", "htmx:sendAbort"];

  function busyButton(form) {
    return form && form.querySelector ? form.querySelector("button[type=submit][data-busy-label]") : null;
  }

  function setBusy(button) {
    if (!button || button.hasAttribute("data-idle-label")) return;
    button.setAttribute("data-idle-label", button.textContent);
    button.textContent = button.getAttribute("data-busy-label");
  }

  function setIdle(button) {
    if (!button || !button.hasAttribute("data-idle-label")) return;
    button.textContent = button.getAttribute("data-idle-label");
    button.removeAttribute("data-idle-label");
    button.disabled = false;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt, target = event.detail.target;
    if (target && target.setAttribute) target.setAttribute("aria-busy", "true");
    if (elt && elt.tagName === "FORM") setBusy(busyButton(elt));
    var selector = elt && elt.getAttribute && elt.getAttribute("hx-indicator");
    var indicator = selector && document.querySelector(selector);
    var text = indicator && indicator.querySelector(".step-loading__text");
    if (text) {  // re-set once shown, so a screen reader announces it
      var words = text.textContent;
      text.textContent = "";
      setTimeout(function () { text.textContent = words; }, 50);
    }
  });
  ENDED.forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = event.detail.elt, target = event.detail.target;
      if (target && target.removeAttribute) target.removeAttribute("aria-busy");
      var xhr = event.detail.xhr;
      var leaving = name === "htmx:afterRequest" && xhr && event.detail.successful &&
        (xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Location"));
      // On the way to the confirmation keep saying "Booking…"; otherwise (an error) restore it.
      if (!elt || elt.tagName !== "FORM" || !document.contains(elt)) return;
      var button = busyButton(elt);
      if (!leaving) setIdle(button);
      else if (button) setTimeout(function () { button.disabled = true; }, 0);  // after htmx re-enables it
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = busyButton(form);
    if (event.defaultPrevented || !button) return;  // htmx took it (or nothing to say)
    if (form.getAttribute("data-submitting")) { event.preventDefault(); return; }
    form.setAttribute("data-submitting", "1");
    setBusy(button);
    // After the submission has read the form (a disabled button would be left out of it).
    setTimeout(function () { button.disabled = true; }, 0);
  });
  // Back to a page kept in the back-forward cache: its form is usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      setIdle(busyButton(form));
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", adoptZone);
  } else {
    adoptZone();
  }
})();
