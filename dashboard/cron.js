// Cron expressions in plain words ("every day at 03:00"). Covers what people write by hand;
// anything else is shown as it is (the expression stays next to the words either way).

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const NICKNAMES = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const num = (s) => /^\d+$/.test(s);
const pad = (n) => String(n).padStart(2, "0");

function list(items) {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** "Monday", "Monday to Friday", "Monday and Thursday"; undefined when not simple. */
function days(field) {
  const name = (d) => DAYS[Number(d) % 7];
  if (/^\d-\d$/.test(field)) {
    const [a, b] = field.split("-");
    return `${name(a)} to ${name(b)}`;
  }
  if (/^\d(,\d)*$/.test(field)) return list(field.split(",").map(name));
  return undefined;
}

/** The words for a 5-field cron expression (or a nickname); undefined when it is not a common shape. */
export function describeCron(expr) {
  const text = NICKNAMES[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return undefined;
  const [min, hour, dom, month, dow] = parts;
  const everyDay = dom === "*" && month === "*" && dow === "*";
  if (min === "*" && hour === "*" && everyDay) return "every minute";
  const step = /^\*\/(\d+)$/.exec(min);
  if (step && hour === "*" && everyDay) return `every ${step[1]} minutes`;
  const hourStep = /^\*\/(\d+)$/.exec(hour);
  if (num(min) && hourStep && everyDay) return `every ${hourStep[1]} hours at minute ${Number(min)}`;
  if (num(min) && hour === "*" && everyDay)
    return Number(min) === 0 ? "every hour, on the hour" : `every hour at minute ${Number(min)}`;
  if (!num(min)) return undefined;
  let at;
  if (num(hour)) at = `at ${pad(hour)}:${pad(min)}`;
  else if (/^\d+(,\d+)+$/.test(hour)) at = `at ${list(hour.split(",").map((x) => `${pad(x)}:${pad(min)}`))}`;
  else return undefined;
  if (everyDay) return `every day ${at}`;
  if (dom === "*" && month === "*") {
    const d = days(dow);
    return d ? `every ${d} ${at}` : undefined;
  }
  if (num(dom) && dow === "*") {
    if (month === "*") return `on day ${Number(dom)} of every month ${at}`;
    if (num(month)) return `every year on ${MONTHS[Number(month) - 1]} ${Number(dom)} ${at}`;
  }
  return undefined;
}
