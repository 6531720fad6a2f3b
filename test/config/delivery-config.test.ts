import { deliveryOptionsFromConfig } from '../../activities/delivery';
import { ConfigError, loadWorkerConfig } from '../../config';
import { DEFAULT_DELIVERY_POLICY } from '../../domain/delivery-time';

const base = {
  DATABASE_URL: 'postgres://duban@127.0.0.1:5432/duban',
  LINK_SECRET: 'test-link-secret-0123456789abcdef0123456789abcdef',
};

describe('worker delivery configuration', () => {
  it('defaults to no SMTP, a 09:00 digest, quiet hours 21:00–08:00 and a one-minute dispatcher', () => {
    const config = loadWorkerConfig(base);
    expect(config).toMatchObject({
      SMTP_SECURE: false,
      SMTP_FROM: 'duban <noreply@localhost>',
      DIGEST_ENABLED: true,
      DISPATCH_INTERVAL: 60_000,
      DELIVERY_MAX_ATTEMPTS: 10,
    });
    expect(config.SMTP_HOST).toBeUndefined();
    const options = deliveryOptionsFromConfig(config);
    expect(options.mailer).toBeUndefined();
    expect(options.policy).toEqual(DEFAULT_DELIVERY_POLICY);
  });

  it('reads SMTP settings, booleans explicitly, and the digest policy', () => {
    const config = loadWorkerConfig({
      ...base,
      SMTP_HOST: 'smtp.example.gov.cn',
      SMTP_SECURE: 'yes',
      SMTP_USER: 'duban',
      SMTP_PASS: 'pass word ',
      DIGEST_TIME: '08:30',
      DIGEST_BYPASS_KINDS: 'escalation-office, overdue',
      QUIET_HOURS: 'off',
      DISPATCH_INTERVAL: 'PT30S',
    });
    expect(config).toMatchObject({ SMTP_SECURE: true, SMTP_PASS: 'pass word ', DISPATCH_INTERVAL: 30_000 });
    const options = deliveryOptionsFromConfig(config);
    expect(options.mailer).toBeDefined();
    expect(options.policy).toEqual({
      digest: true,
      digestTime: '08:30',
      bypassKinds: ['escalation-office', 'overdue'],
      quietHours: null,
    });
    expect(
      deliveryOptionsFromConfig(loadWorkerConfig({ ...base, DIGEST_BYPASS_KINDS: 'none' })).policy?.bypassKinds,
    ).toEqual([]);
  });

  it.each([
    ['SMTP_SECURE', 'maybe'],
    ['SMTP_PORT', '70000'],
    ['DIGEST_TIME', '9am'],
    ['DIGEST_BYPASS_KINDS', 'escalation-office,gossip'],
    ['QUIET_HOURS', '21-8'],
    ['DISPATCH_INTERVAL', 'PT0.5S'],
    ['DISPATCH_INTERVAL', '1 minute'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadWorkerConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...base, [name]: value })).toThrow(name);
  });
});
