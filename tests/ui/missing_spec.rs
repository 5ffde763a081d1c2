// A spec path that does not exist is named in the error.
mod api {
    gatehouse::spec!("../../../../tests/ui/no_such_spec.yaml");
}

fn main() {}
