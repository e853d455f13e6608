import { ParleyError } from '../../wire/parley-error.js';

/** Services for the CLI tests (a module `parley node` can run). */
export default [
  {
    name: 'fixture',
    actions: {
      add: (p: { a: number; b: number }) => p.a + p.b,
      denied: () => {
        throw new ParleyError('PERMISSION_DENIED', 'not for you');
      },
    },
  },
];
