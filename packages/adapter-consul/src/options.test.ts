import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConsulConfig } from './options.ts';

test('a full, valid consul section becomes options with durations in ms', () => {
  process.env.MG_TEST_CONSUL_TOKEN = 'x';
  const { options, errors } = parseConsulConfig({
    address: 'https://consul.example:8501',
    datacenter: 'dc2',
    namespace: 'shop',
    partition: 'ap1',
    tokenEnv: 'MG_TEST_CONSUL_TOKEN',
    tls: { caFile: '/etc/consul/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', serverName: 'consul.example' },
    services: ['web'],
    tag: 'public',
    wait: '2m',
    requestTimeout: '5s',
    concurrency: 8,
    rateLimit: { burst: 3, minInterval: '500ms', maxInterval: '10s' },
    gateway: { name: 'edge', kind: 'typical', port: 443 },
  });
  assert.deepEqual(errors, []);
  assert.equal(options!.waitMs, 120_000);
  assert.equal(options!.requestTimeoutMs, 5000);
  assert.deepEqual(options!.rateLimit, { burst: 3, minIntervalMs: 500, maxIntervalMs: 10_000 });
  assert.equal(options!.gateway!.name, 'edge');
});

test('errors name the path and the fix', () => {
  const { options, errors } = parseConsulConfig(
    {
      address: 'consul:8500x',
      token: 'secret-value',
      wait: '20m',
      tls: { certFile: '/c' },
      services: 'web',
      bogus: 1,
      gateway: { port: 0 },
    },
    'consul',
  );
  assert.equal(options, undefined);
  const by = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.match(by['consul.token'], /tokenFile.*tokenEnv/);
  assert.match(by['consul.wait'], /10m/);
  assert.match(by['consul.tls'], /certFile and keyFile go together/);
  assert.match(by['consul.services'], /list of Consul service names/);
  assert.match(by['consul.bogus'], /unknown key "bogus"/);
  assert.match(by['consul.gateway.port'], /1\.\.65535/);
  assert.ok(
    errors.every((e) => !e.message.includes('secret-value')),
    'the token value never appears in errors',
  );
});

test('an unset tokenEnv variable is reported', () => {
  delete process.env.MG_TEST_UNSET;
  const { errors } = parseConsulConfig({ tokenEnv: 'MG_TEST_UNSET' }, 'consul');
  assert.equal(errors[0].path, 'consul.tokenEnv');
});

test('an empty section means defaults', () => {
  assert.deepEqual(parseConsulConfig(null, 'consul'), { options: {}, errors: [] });
  assert.equal(parseConsulConfig([], 'consul').errors[0].path, 'consul');
});
