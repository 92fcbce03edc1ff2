// Dumps the real Zigbee2MQTT device definitions the simulator's Zigbee profiles are made of.
//
//   cd ambience/simulator/profiles && npm install --no-save zigbee-herdsman-converters@26.112.0 \
//     && node make_zigbee2mqtt.mjs > zigbee2mqtt.json
//
// For each model below it takes the definition from zigbee-herdsman-converters (the library
// Zigbee2MQTT itself uses), resolves its exposes as Zigbee2MQTT does for a device with default
// options, and writes them in the form Zigbee2MQTT publishes on `<base>/bridge/devices`
// (`definition: {model, vendor, description, exposes, options}`). Nothing here is hand-written:
// re-run it to follow a new zigbee-herdsman-converters.
import {createRequire} from 'module';
import fs from 'fs';
import path from 'path';

const require = createRequire(import.meta.url);
const zhc = require('zigbee-herdsman-converters');
const version = require('zigbee-herdsman-converters/package.json').version;
const MODELS = [
  'LED1545G12',         // IKEA TRÅDFRI white spectrum bulb
  '8718696548738',      // Philips Hue White Ambiance E27
  'TS0601_thermostat',  // Tuya TS0601 TRV (Moes HY368/HY369RT, Silvercrest TVR01…)
  '014G2461',           // Danfoss Ally
  'BTH-RA',             // Bosch radiator thermostat II
  'SRTS-A01',           // Aqara E1 TRV
  'TRVZB',              // SONOFF TRV
  'SPZB0001',           // Eurotronic Spirit
  'E160x/E170x/E190x',  // IKEA TRÅDFRI control outlet (a plug)
  'TS011F_plug_1',      // Tuya smart plug with power metering (a countdown: its own auto-off)
  'WSDCGQ11LM',         // Aqara temperature, humidity and pressure sensor (battery)
  'SNZB-02',            // SONOFF temperature and humidity sensor (battery)
];

const dir = path.join(path.dirname(require.resolve('zigbee-herdsman-converters')), 'devices');
const found = {};
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
  const mod = require(path.join(dir, file));
  for (const d of mod.definitions ?? []) if (MODELS.includes(d.model) && !found[d.model]) found[d.model] = d;
}
const out = {generated_by: 'make_zigbee2mqtt.mjs', 'zigbee-herdsman-converters': version, definitions: {}};
for (const model of MODELS) {
  if (!found[model]) throw new Error(`${model}: not in zigbee-herdsman-converters ${version}`);
  const def = zhc.prepareDefinition(found[model]);
  // a function of the device: called with a dummy device, as Zigbee2MQTT's own docs generator does
  const exposes = typeof def.exposes === 'function' ? def.exposes({isDummyDevice: true}, {}) : def.exposes;
  out.definitions[model] = JSON.parse(JSON.stringify({
    model: def.model, vendor: def.vendor, description: def.description,
    exposes, options: def.options ?? [], supports_ota: !!def.ota,
  }));
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
