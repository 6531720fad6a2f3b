export { annualCycle } from './annual-cycle';
export { workPoint } from './work-point';
export { dispatcher } from './dispatcher';
