/** A reason a form cannot run now; `model` ones come with a way to the Models view. */
export interface FormProblem {
  kind: 'loading' | 'model' | 'size' | 'value';
  message: string;
}
