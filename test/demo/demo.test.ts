/**
 * `npm start` as a newcomer runs it (`node bin/zonegate.js demo`, the start script, on the
 * built dist/): the printed MQTT lines with real mosquitto clients, the printed drill lines
 * (npx zonegate ... --map FILE), and what the demo says the user will see: the HTTP answer
 * changes zone and the subscriber is moved under its one open connection. Then a second demo
 * on the same default ports, which must take free ones and run `--drill` by itself.
 *
 * The MQTT port is always given (0): tests never bind 1883, which this machine's own broker uses.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { exec, track, type ExecResult } from '../helpers/child-processes.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { watchLines, type GatewayProcess } from '../helpers/gateway-process.js';
import { curl } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';

const hasMosquittoClients =
  spawnSync('sh', ['-c', 'command -v mosquitto_sub && command -v mosquitto_pub']).status === 0;

function startDemo(args: readonly string[]): GatewayProcess {
  // The `start` script's command line, plus the flags under test.
  const child = spawn(process.execPath, ['bin/zonegate.js', 'demo', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  return watchLines(child);
}

/** Runs one printed shell line from the repository's folder, as a user pastes it. */
function sh(line: string): Promise<ExecResult> {
  return exec('sh', ['-c', line], { cwd: REPO_ROOT, timeoutMs: 60_000 });
}

const zoneOf = async (curlLine: string): Promise<string> => {
  const r = await sh(curlLine);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { zone: string }).zone;
};

describe('npm start: the demo with MQTT and a drill on its own map file', () => {
  const running: GatewayProcess[] = [];
  before(() => {
    assert.ok(existsSync(`${REPO_ROOT}dist/cli/main.js`), 'npm start runs dist/: `npm run build` first');
  });
  after(async () => {
    for (const p of running) await p.stop('SIGKILL');
  });

  it(
    'the printed mosquitto lines and drill lines work: HTTP changes zone, the subscriber moves without a reconnect',
    { skip: !hasMosquittoClients && 'mosquitto clients are not installed' },
    async () => {
      const demo = startDemo(['--mqtt-port', '0']);
      running.push(demo);
      const curlUid = (await demo.waitFor(/^curl -s -H 'x-ldc-uid: 1234' \S+$/, 60_000))[0];
      const subLine = (await demo.waitFor(/^mosquitto_sub -h \S+ -p \d+ -i 1234-sub -t pong -v$/))[0];
      const pubLine = (await demo.waitFor(/^mosquitto_pub -h \S+ -p \d+ -i 1234-pub -t ping -m hello$/))[0];
      const downLine = (
        await demo.waitFor(/^npx zonegate zone down rz03 --map \S+ --reason 'demo drill'$/)
      )[0];
      const upLine = (await demo.waitFor(/^npx zonegate zone up rz03 --map \S+ --reason 'drill over'$/))[0];
      await demo.waitFor(/^npx mqtt sub -h \S+ -p \d+ -i 1234-sub -t pong -v$/);

      // The printed subscriber, with -d so that every CONNACK it receives is visible, and its
      // stdout line-buffered (into a pipe, stdio would hold the lines back until it exits).
      const subChild = spawn('stdbuf', ['-oL', ...`${subLine} -d`.split(' ')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(subChild);
      const sub = watchLines(subChild);
      running.push(sub);
      await sub.waitFor(/Client 1234-sub received SUBACK/);
      const pongs = (): string[] => sub.stdout.filter((l) => l.startsWith('pong '));
      /** Runs the printed publisher until the subscriber prints the pong of `zone`. */
      const pongFrom = async (zone: string): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          const r = await sh(pubLine);
          assert.equal(r.code, 0, r.stderr);
          try {
            await sub.waitFor(new RegExp(`^pong ${zone}: hello$`), 1000);
            return;
          } catch (err) {
            // A ping sent while the two clients are being moved may reach the broker the
            // subscriber just left (QoS 0): publish again, a bounded number of times.
            if (attempt >= 15) throw err;
          }
        }
      };
      const untilZone = (zone: string): Promise<void> =>
        waitFor(`HTTP to answer from ${zone}`, async () => (await zoneOf(curlUid)) === zone, 10_000, 50);

      await pongFrom('rz03');
      assert.equal(await zoneOf(curlUid), 'rz03');

      const down = await sh(downLine);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /30-39 {2}rz03 -> rz01 {2}\[10\]/);
      assert.match(down.stdout, /written: version 2 \(was 1\)/);
      await untilZone('rz01');
      await pongFrom('rz01');

      const up = await sh(upLine);
      assert.equal(up.code, 0, up.stderr);
      await untilZone('rz03');
      await pongFrom('rz03');

      // One connection all along: a single CONNACK, and mosquitto_sub is still running.
      const connacks = [...sub.stdout, ...sub.stderr].filter((l) => /received CONNACK/.test(l));
      assert.equal(connacks.length, 1, connacks.join('\n'));
      assert.equal(subChild.exitCode, null);
      // Each zone answered in turn (a late pong from the zone just left may come after: the
      // gateway lets the old broker deliver what it had in flight).
      assert.deepEqual([...new Set(pongs())], ['pong rz03: hello', 'pong rz01: hello']);

      const history = await sh(`npx zonegate map history --map ${/--map (\S+)/.exec(downLine)![1]}`);
      assert.match(history.stdout, /v3 .* zone up rz03 {2}reason: drill over/);
      assert.match(history.stdout, /v2 .* zone down rz03 {2}reason: demo drill/);

      await sub.stop('SIGTERM');
      // The first demo keeps running: the next test starts a second one on the same defaults.
    },
  );

  it('a second demo on taken default ports picks free ones, says so, and runs the drill by itself', async () => {
    if (running.length === 0) {
      // Without the first test (no mosquitto clients), hold 8080's stand-in: a first demo.
      const first = startDemo(['--mqtt-port', '0']);
      running.push(first);
      await first.waitFor(/^ {2}HTTP {2}http:/, 60_000);
    }
    const second = startDemo(['--mqtt-port', '0', '--drill']);
    running.push(second);
    const http = await second.waitFor(/^ {2}HTTP {2}(http:\/\/\S+)(.*)$/, 60_000);
    assert.notEqual(new URL(http[1]!).port, '8080');
    assert.equal(http[2], '   (8080 is taken: a free port instead)');
    await second.waitFor(
      /^ {2}admin http:\/\/127\.0\.0\.1:\d+ {3}\(loopback only\) {3}\(9901 is taken: a free port instead\)$/,
    );
    await second.waitFor(/HTTP {2}uid 1234 → 200 from rz01 \(blue\)$/, 60_000);
    await second.waitFor(
      /MQTT {2}pong 'rz01: after zone down' \(\d+ ms\); 1234-drill-sub still on its first connection \(1 CONNACK\)$/,
    );
    await second.waitFor(/MQTT {2}pong 'rz03: after zone up'/);
    await second.waitFor(/^v3 .* zone up rz03 {2}reason: drill over$/);
    await second.waitFor(
      /^Drill done in [\d.]+ s: HTTP and MQTT followed the map both ways; the subscriber never reconnected\.$/,
    );
    // It ends by itself once the drill is done.
    const code = await new Promise<number | null>((resolve) =>
      second.child.exitCode !== null ? resolve(second.child.exitCode) : second.child.once('exit', resolve),
    );
    assert.equal(code, 0, second.stderr.join('\n'));
    // The first demo still answers on its own ports.
    const first = running[0]!;
    const url = (await first.waitFor(/^ {2}HTTP {2}(http:\/\/\S+)/))[1]!;
    assert.equal((await curl([`${url}/`])).status, 200);
    assert.equal(await first.stop('SIGTERM'), 0);
  });
});
