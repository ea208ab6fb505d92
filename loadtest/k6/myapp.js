// k6 script for users who have k6: the same requests as loadtest/wrk/myapp.lua.
//   TARGET=http://127.0.0.1:8080 k6 run loadtest/k6/myapp.js
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 64,
  duration: '10s',
  thresholds: { checks: ['rate==1.0'] },
  insecureSkipTLSVerify: true,
};

const target = __ENV.TARGET || 'http://127.0.0.1:8080';
const paths = ['/blog/post/1?ref=home', '/store/item/42?color=blue'];

export default function () {
  const p = paths[__ITER % paths.length];
  const res = http.get(`${target}${p}`, { headers: { Host: 'myapp.com' } });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
