// Builds elements without innerHTML, so text from the API is never parsed as markup.
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((child) => child != null && child !== false));
}

let fieldCounter = 0;

// A labelled form field; `control` is "input", "select" or "textarea".
export function field(label, control = "input", props = {}, options = []) {
  const id = props.id ?? `field-${++fieldCounter}`;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const { hint, ...rest } = props;
  const element = h(control, { ...rest, id, "aria-describedby": hintId },
    ...options.map((option) => h("option", { value: option.value, selected: option.selected }, option.label)));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    element,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

export function message(kind, text) {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// Moves focus to a view's heading after navigation, so keyboard and screen reader users
// start at the new content.
export function focusHeading(container) {
  const heading = container.querySelector("h1, h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}
